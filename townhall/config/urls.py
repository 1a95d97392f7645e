from django.contrib import admin
from django.urls import include, path

from townhall.api import api
from townhall.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("", include("townhall.demo.urls")),
]
