from django.contrib import admin

from governance_site.admin_tools import AppendOnlyAdminMixin

from .models import ReviewSignOff


@admin.register(ReviewSignOff)
class ReviewSignOffAdmin(AppendOnlyAdminMixin, admin.ModelAdmin):
    """The history of completed reviews: written by the sign-off on the review page, never edited."""

    list_display = ["signed_at", "signed_by", "since", "until", "note"]
    list_filter = [("signed_by", admin.AllValuesFieldListFilter)]
    search_fields = ["note", "signed_by"]
    date_hierarchy = "signed_at"
    fields = readonly_fields = ["since", "until", "signed_by", "signed_at", "note"]
