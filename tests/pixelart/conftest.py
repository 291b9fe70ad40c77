import pytest

from history.models import HistoryItem
from tests.support import finished_at_sandbox, run_queued_tasks


def completed_video(sandbox, *, user=None, prompt: str = "a pixel knight crosses a bridge") -> HistoryItem:
    """A video made by the sandbox and brought home by the real download step (run
    from the queue, as a worker would, so nothing is left queued)."""
    task = finished_at_sandbox(sandbox, prompt=prompt)
    if user is not None:
        task.job.user = user
        task.job.save(update_fields=["user"])
        HistoryItem.objects.filter(task=task).update(user=user)
    run_queued_tasks()
    return HistoryItem.objects.select_related("task").get(task=task)


@pytest.fixture
def video(sandbox, user) -> HistoryItem:
    return completed_video(sandbox, user=user)


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """A request in Korean activates Korean on the thread, and the test client leaves it
    active; the next test starts in the default language again."""
    yield
    from django.utils import translation

    translation.deactivate()

