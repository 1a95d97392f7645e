from django.urls import path

from townhall.support import views

app_name = "support"

urlpatterns = [
    path("support/test-checkout/<str:token>/", views.test_checkout, name="test-checkout"),
    path("support/<slug:site>/<slug:slug>/", views.support_page, name="support-page"),
    path("moderate/<slug:slug>/support/", views.staff_campaigns, name="staff-campaigns"),
    path(
        "moderate/<slug:slug>/support/<slug:campaign>/",
        views.staff_campaign,
        name="staff-campaign",
    ),
    path(
        "moderate/<slug:slug>/support/<slug:campaign>/contributions/",
        views.staff_add_contribution,
        name="staff-add-contribution",
    ),
    path(
        "moderate/<slug:slug>/support/<slug:campaign>/import/",
        views.staff_import,
        name="staff-import",
    ),
]
