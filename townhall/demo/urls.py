from django.urls import path

from townhall.demo import views
from townhall.demo.seed import ARTICLE_PATH

urlpatterns = [
    path("", views.home, name="demo-home"),
    path("demo/sso-token", views.sso_token, name="demo-sso-token"),
    path("demo/<str:name>", views.asset, name="demo-asset"),
    path(ARTICLE_PATH.strip("/") + "/", views.article, name="demo-article"),
]
