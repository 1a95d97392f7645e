from django.urls import path, re_path

from townhall.widget import views

urlpatterns = [
    path("embed.js", views.embed, name="embed"),
    re_path(r"^embed\.(?P<digest>[0-9a-f]{16})\.js$", views.embed, name="embed-hashed"),
    path("embed-anchoring.js", views.anchoring, name="embed-anchoring"),
    re_path(
        r"^embed-anchoring\.(?P<digest>[0-9a-f]{16})\.js$",
        views.anchoring,
        name="embed-anchoring-hashed",
    ),
    path("embed-support.js", views.support, name="embed-support"),
    re_path(
        r"^embed-support\.(?P<digest>[0-9a-f]{16})\.js$",
        views.support,
        name="embed-support-hashed",
    ),
    path("embed-account.js", views.account, name="embed-account"),
    re_path(
        r"^embed-account\.(?P<digest>[0-9a-f]{16})\.js$",
        views.account,
        name="embed-account-hashed",
    ),
]
