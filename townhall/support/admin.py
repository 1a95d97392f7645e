from django.contrib import admin

from townhall.support.models import Campaign, Contribution, StripeEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Read-only: totals move only through the actions (``townhall campaign``, the staff pages
    under /moderate/, the webhook), which keep them equal to the contributions."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("slug", "site", "title", "currency", "goal", "settled_total", "starts", "ends")
    list_filter = ("site", "checkout")


@admin.register(Contribution)
class ContributionAdmin(ReadOnlyAdmin):
    list_display = ("id", "campaign", "amount", "currency", "status", "source", "created")
    list_filter = ("status", "source", "campaign__site")


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "site", "type", "outcome", "received")
    list_filter = ("site", "type", "outcome")
