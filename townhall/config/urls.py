from django.contrib import admin
from django.urls import include, path, re_path

from townhall.api import api
from townhall.core.views import api_not_found, healthz
from townhall.discussions import views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    re_path(r"^api/", api_not_found),
    path("admin/", admin.site.urls),
    path("notifications/", include("townhall.notifications.urls")),
    # Before moderation's: reader support adds /support/… and a section under /moderate/<site>/.
    path("", include("townhall.support.urls")),
    path("moderate/", include("townhall.moderation.urls")),
    path("", include("townhall.widget.urls")),
    path("t/<slug:slug>/", views.thread_page, name="thread-page"),
    path("", include("townhall.demo.urls")),
]
