from django.contrib import admin

from townhall.sites.models import Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "moderation_mode", "created")
    search_fields = ("slug", "name")
    # Secrets are set with `townhall stripekeys` and never shown.
    exclude = ("stripe_secret_key", "stripe_webhook_secret")
