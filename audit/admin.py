from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.models import AuditEntry
from audit.selectors import entries_for


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


class StaffActionsShown:
    """Adds `staff_actions` for an object's admin page: what staff did to it, why,
    and what came of it (the object's rows of the audit log)."""

    @admin.display(description="staff actions")
    def staff_actions(self, obj):
        entries = list(entries_for(obj)) if obj is not None and obj.pk else []
        if not entries:
            return "none"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M"),
                    entry.actor_name,
                    entry.get_action_display(),
                    entry.get_result_display(),
                    entry.message,
                    entry.reason,
                )
                for entry in entries
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>who</th><th>action</th><th>result</th><th>outcome</th><th>why</th></tr>{}</table>",
            rows,
        )
