from django.urls import include, path, re_path

from townhall.moderation import readers, views

app_name = "moderation"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("sso/", readers.sso_login, name="sso-login"),
    re_path(
        r"^assets/moderate\.(?P<digest>[0-9a-f]{16})\.(?P<ext>js|css)$",
        views.asset_file,
        name="asset",
    ),
    path("<slug:slug>/", views.queue, name="queue"),
    path("<slug:slug>/search/", views.search, name="search"),
    path("<slug:slug>/bans/", views.bans, name="bans"),
    path("<slug:slug>/bans/<int:ban_id>/lift/", views.lift_ban, name="lift-ban"),
    path("<slug:slug>/log/", views.log, name="log"),
    path("<slug:slug>/readers/", readers.readers, name="readers"),
    path(
        "<slug:slug>/readers/<int:commenter_id>/export/",
        readers.reader_export,
        name="reader-export",
    ),
    path(
        "<slug:slug>/readers/<int:commenter_id>/delete/",
        readers.reader_delete,
        name="reader-delete",
    ),
    path("<slug:slug>/rules/", views.rules, name="rules"),
    path("", include("townhall.migration.urls")),  # /moderate/<site>/import/
    path("<slug:slug>/bulk/", views.bulk, name="bulk"),
    path("<slug:slug>/undo/<int:entry_id>/", views.undo, name="undo"),
    path("<slug:slug>/comments/<int:comment_id>/decide/", views.decide, name="decide"),
    path("<slug:slug>/comments/<int:comment_id>/ban/", views.ban_author, name="ban-author"),
    path("<slug:slug>/comments/<int:comment_id>/feature/", views.feature, name="feature"),
]
