"""Task and job actions in the admin: each asks why, calls the gallery's services and
records its outcome per task in the audit log."""

import pytest
from django.urls import reverse

from audit.models import Action, AuditEntry, Result
from generation.models import Task, TaskStatus
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks, run_admin_action

pytestmark = pytest.mark.django_db

TASKS = "admin:generation_task_changelist"


def test_retry_makes_a_new_attempt_and_records_it(staff, boss):
    ann = make_user("ann")
    fund(ann, 5)
    failed = make_task(user=ann, status=TaskStatus.FAILED)
    running = make_task(user=ann, status=TaskStatus.IN_PROGRESS)

    page = run_admin_action(staff, reverse(TASKS), "retry_selected", [failed, running], reason="provider outage is over").content.decode()

    new = Task.objects.get(retried_from=failed)
    assert f"Retried as task {str(new.pk)[:8]}." in page
    assert "Not retried: only a failed or cancelled task can be retried, once." in page
    assert len(queued_tasks("submit_task")) == 1
    entries = {e.target_id: e for e in AuditEntry.objects.filter(action=Action.RETRY_TASK)}
    assert (entries[str(failed.pk)].result, entries[str(failed.pk)].details) == (Result.DONE, {"new_task": str(new.pk)})
    assert entries[str(running.pk)].result == Result.REFUSED
    assert {e.reason for e in entries.values()} == {"provider outage is over"}


def test_cancel_from_a_tasks_own_page(staff):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-9")
    url = reverse("admin:generation_task_change", args=[task.pk])
    fields = {"CHANGE_FORM-action": "cancel_selected", "_selected_action": [str(task.pk)]}
    assert 'name="reason"' in staff.post(url, fields).content.decode()

    page = staff.post(url, {**fields, "apply": "yes", "reason": "user wrote in"}, follow=True).content.decode()

    assert "Cancelled. The provider was asked to stop it." in page
    assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    assert len(queued_tasks("cancel_at_provider")) == 1
    entry = AuditEntry.objects.get(action=Action.CANCEL_TASK)
    assert (entry.result, entry.outcome, entry.reason) == (Result.DONE, "cancelled", "user wrote in")
    history = staff.get(url).content.decode()  # the task's own page lists what staff did to it
    assert "staff actions" in history.lower() and "user wrote in" in history and "Cancel task" in history
