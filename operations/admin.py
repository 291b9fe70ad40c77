"""Provider groups for staff: each group's cap, interval and breaker, what it has in
flight and waiting now, and the actions that open or close its breaker by hand (each
through its service, each recorded in the audit log). Alert incidents and the
processes' heartbeats, read only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from audit.admin import StaffActionsShown
from audit.admin_actions import staff_action
from audit.models import Action, Result
from audit.services import Outcome, Text
from operations.models import AlertIncident, BreakerState, Heartbeat, ProviderGroup
from operations.services import close_breaker_by_hand, in_flight_count, open_breaker_by_hand, waiting_tasks


def _open(group: ProviderGroup) -> Outcome:
    if group.breaker == BreakerState.OPEN and group.opened_by_hand:
        return Outcome(Result.UNCHANGED, Text(gettext_noop("Already held open.")), "unchanged")
    open_breaker_by_hand(name=group.name)
    return Outcome(Result.DONE, Text(gettext_noop("Breaker open: its tasks wait until it is closed.")), "opened")


def _close(group: ProviderGroup) -> Outcome:
    if group.breaker == BreakerState.CLOSED:
        return Outcome(Result.UNCHANGED, Text(gettext_noop("Already closed.")), "unchanged")
    woken = close_breaker_by_hand(name=group.name)
    text = Text(gettext_noop("Breaker closed; %(count)s waiting task(s) sent on."), {"count": len(woken)})
    return Outcome(Result.DONE, text, "closed")


@admin.register(ProviderGroup)
class ProviderGroupAdmin(StaffActionsShown, admin.ModelAdmin):
    list_display = [
        "name", "breaker", "in_flight", "waiting", "max_in_flight", "min_interval_seconds",
        "consecutive_failures", "probe_after", "last_submit_at",
    ]
    list_filter = ["breaker"]
    readonly_fields = [
        "breaker", "consecutive_failures", "opened_at", "probe_after", "probe_task", "opened_by_hand",
        "last_failure", "last_submit_at", "in_flight", "waiting", "staff_actions",
    ]
    actions = ["open_breaker", "close_breaker"]

    open_breaker = staff_action(
        action=Action.OPEN_BREAKER,
        description=_("Open the breaker of selected groups"),
        explanation=_(
            "New and waiting tasks of the group stay queued, their cards saying the model is unavailable, "
            "until someone closes it."
        ),
        run=lambda group, data, actor, entry: _open(group),
    )
    close_breaker = staff_action(
        action=Action.CLOSE_BREAKER,
        description=_("Close the breaker of selected groups"),
        explanation=_("The group's waiting tasks are sent on, as many as its cap allows."),
        run=lambda group, data, actor, entry: _close(group),
    )

    @admin.display(description=_("in flight"))
    def in_flight(self, group: ProviderGroup) -> int:
        return in_flight_count(group.name)

    @admin.display(description=_("waiting"))
    def waiting(self, group: ProviderGroup) -> int:
        return waiting_tasks(group.name).count()


@admin.register(AlertIncident)
class AlertIncidentAdmin(admin.ModelAdmin):
    """Alerts open and past: written only by operations.alerts."""

    list_display = ("rule", "summary", "opened_at", "resolved_at", "threshold")
    list_filter = ("rule", ("resolved_at", admin.EmptyFieldListFilter))
    date_hierarchy = "opened_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    """The background processes' last signs of life (a stopped machine's row stays;
    delete it once that machine is gone for good)."""

    list_display = ("name", "kind", "beat_at")
    list_filter = ("kind",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
