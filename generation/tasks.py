"""Background steps. Each is a thin, idempotent wrapper around a service: it may run
twice, or after a crash, with the same result (see the services for how)."""

from django.tasks import task

from generation import downloads, reconcile, submission


@task()
def submit_generation(task_id: str) -> None:
    submission.submit_task(task_id=task_id)


@task()
def download_generation(task_id: str) -> None:
    downloads.download_result(task_id=task_id)


@task()
def cancel_at_provider(task_id: str) -> None:
    submission.cancel_at_provider(task_id=task_id)


@task()
def refresh_from_provider(task_id: str) -> None:
    reconcile.refresh_task(task_id=task_id)
