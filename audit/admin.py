from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is written by the actions themselves."""

    list_display = ["created_at", "actor_name", "action", "target_link", "result", "message", "reason"]
    list_filter = ["action", "result", "target_type", "created_at"]
    search_fields = ["target_id", "target_label", "actor_name", "reason", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at", "finished_at", "actor_name", "action", "target_type", "target_link", "target_id",
        "reason", "details", "result", "outcome", "message",
    ]
    fields = readonly_fields

    @admin.display(description="object")
    def target_link(self, entry):
        try:
            url = reverse(f"admin:{entry.target_app_label}_{entry.target_model}_change", args=[entry.target_id])
        except NoReverseMatch:
            return f"{entry.target_type} {entry.target_label}"
        return format_html('<a href="{}">{} {}</a>', url, entry.target_type, entry.target_label)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
