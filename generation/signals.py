"""Files that go with their rows, however the rows are deleted.

The gallery's Delete removes a card's files itself (`history.services`); a job can also
go from the admin, or with its user's account, where no service of ours runs. A job's
input images are then removed once the deletion is committed, so nothing uploaded
stays in storage after the job that owned it."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from generation.models import Job


@receiver(post_delete, sender=Job)
def remove_input_images(sender, instance: Job, **kwargs) -> None:
    files = [f for f in (instance.input_image, instance.input_end_image) if f]
    if files:
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
