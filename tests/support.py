"""Running queued background steps inside a test, the way a worker would."""

from django.utils import timezone
from django_tasks_db.models import DBTaskResult


def queued_tasks(name: str | None = None) -> list[DBTaskResult]:
    """Steps waiting to run (including ones scheduled for later)."""
    results = DBTaskResult.objects.filter(status="READY").order_by("enqueued_at")
    return [r for r in results if name is None or r.task_path.endswith(f".{name}")]


def run_queued_tasks(*, include_delayed: bool = False, limit: int = 50) -> int:
    """Run ready steps in this process until none is left; returns how many ran.
    Delayed ones (retries with backoff) run too when include_delayed is set. A step
    that raises is recorded failed and the exception propagates, as a bug should."""
    ran = 0
    while ran < limit:
        ready = DBTaskResult.objects.filter(status="READY")
        if not include_delayed:
            ready = ready.ready()
        result = ready.order_by("enqueued_at").first()
        if result is None:
            return ran
        if include_delayed:
            DBTaskResult.objects.filter(pk=result.pk).update(run_after=timezone.now())
            result.refresh_from_db()
        result.claim("test")
        try:
            result.task.call(*result.task_result.args, **result.task_result.kwargs)
        except BaseException as exc:
            result.set_failed(exc)
            raise
        result.set_successful(None)
        ran += 1
    raise AssertionError(f"more than {limit} background steps: a loop?")


def run_admin_action(client, changelist_url: str, action: str, objects, **form):
    """Press an audited admin action the way staff do: select, choose the action
    (which asks why), then confirm with the form's fields. Returns the final page."""
    selected = [str(obj.pk) for obj in objects]
    asked = client.post(changelist_url, {"action": action, "_selected_action": selected})
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode(), "the action should ask why"
    data = {"action": action, "_selected_action": selected, "apply": "yes", **form}
    return client.post(changelist_url, data, follow=True)
