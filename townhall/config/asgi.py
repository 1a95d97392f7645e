import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
django_application = get_asgi_application()

from townhall.discussions.hotpath import ThreadReadFastPath  # noqa: E402  (needs Django set up)

application = ThreadReadFastPath(django_application)  # type: ignore[arg-type]
