from django.contrib import admin

from townhall.discussions.models import Comment, Thread


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ("url", "site", "comment_count", "is_open", "created")
    list_filter = ("site", "is_open")
    search_fields = ("url", "title")
    readonly_fields = ("site", "url_key", "url", "comment_count", "version", "created")


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    """Read-only until the moderation pages (issue 6): every change goes through actions."""

    list_display = ("id", "author_name", "status", "thread", "score", "created")
    list_filter = ("status", "thread__site")
    search_fields = ("body", "author_name")
    readonly_fields = [field.name for field in Comment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
