from django.urls import path

from townhall.migration import views

app_name = "migration"

urlpatterns = [
    path("<slug:slug>/import/", views.staff_import, name="staff-import"),
]
