from django.urls import path

from townhall.notifications import views

urlpatterns = [
    path("confirm/<str:token>/", views.confirm, name="notifications-confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="notifications-unsubscribe"),
    path("manage/<str:token>/", views.manage, name="notifications-manage"),
]
