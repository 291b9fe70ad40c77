"""Provider groups in the admin: each breaker's state with what is in flight and
waiting, and the audited actions that open and close it by hand."""

import pytest
from django.urls import reverse

from audit.models import Action, AuditEntry, Result
from generation.models import TaskStatus, Waiting
from operations.models import BreakerState, ProviderGroup
from tests.factories import make_task
from tests.support import queued_tasks, run_admin_action

pytestmark = pytest.mark.django_db

GROUPS = "admin:operations_providergroup_changelist"


def test_staff_see_each_groups_breaker_in_flight_and_waiting(staff):
    ProviderGroup.objects.create(name="kling", breaker=BreakerState.OPEN, consecutive_failures=5)
    make_task(status=TaskStatus.QUEUED)
    make_task(waiting=Waiting.BREAKER)
    page = staff.get(reverse(GROUPS)).content.decode()
    assert "Open (holding tasks)" in page
    row = page[page.index(">kling<"):]
    assert '<td class="field-in_flight">1</td>' in row and '<td class="field-waiting">1</td>' in row


def test_staff_open_and_close_a_breaker_by_hand(staff, boss):
    group = ProviderGroup.objects.create(name="kling")
    waiting = make_task(waiting=Waiting.BREAKER)
    page = run_admin_action(staff, reverse(GROUPS), "open_breaker", [group], reason="fal incident").content.decode()
    assert "Breaker open" in page
    group.refresh_from_db()
    assert (group.breaker, group.opened_by_hand, group.probe_after) == (BreakerState.OPEN, True, None)

    page = run_admin_action(staff, reverse(GROUPS), "close_breaker", [group], reason="fal is back").content.decode()
    assert "Breaker closed; 1 waiting task(s) sent on." in page
    assert ProviderGroup.objects.get(name="kling").breaker == BreakerState.CLOSED
    assert [r.task_result.args[0] for r in queued_tasks("submit_task")] == [str(waiting.pk)]
    entries = AuditEntry.objects.filter(target_id="kling").order_by("created_at")
    assert [(e.action, e.result, e.actor) for e in entries] == [
        (Action.OPEN_BREAKER, Result.DONE, boss), (Action.CLOSE_BREAKER, Result.DONE, boss),
    ]
