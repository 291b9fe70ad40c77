from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import AuditEntry
from audit.selectors import entries_for


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is written by the actions themselves."""

    list_display = ["created_at", "actor_name", "action", "target_link", "result", "outcome_message", "reason"]
    list_filter = ["action", "result", "target_type", "created_at"]
    search_fields = ["target_id", "target_label", "actor_name", "reason", "message"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at", "finished_at", "actor_name", "action", "target_type", "target_link", "target_id",
        "reason", "details", "result", "outcome", "outcome_message",
    ]
    fields = readonly_fields

    @admin.display(description=gettext_lazy("outcome"))
    def outcome_message(self, entry):
        return entry.shown_message

    @admin.display(description=gettext_lazy("object"))
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

    @admin.display(description=gettext_lazy("staff actions"))
    def staff_actions(self, obj):
        entries = list(entries_for(obj)) if obj is not None and obj.pk else []
        if not entries:
            return _("none")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    date_format(timezone.localtime(entry.created_at), "SHORT_DATETIME_FORMAT"),
                    entry.actor_name,
                    entry.get_action_display(),
                    entry.get_result_display(),
                    entry.shown_message,
                    entry.reason,
                )
                for entry in entries
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("when"), _("who"), _("action"), _("result"), _("outcome"), _("why"),
            rows,
        )
