"""A card's video and poster go with the card, however it is deleted: the gallery's
Delete (`history.services.delete_history_item`), or a job or account deleted in the
admin, whose cards go by cascade where no service of ours runs. The files are
removed once the deletion is committed (a rolled-back delete keeps them)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from history.models import HistoryItem


@receiver(post_delete, sender=HistoryItem)
def remove_card_files(sender, instance: HistoryItem, **kwargs) -> None:
    files = [f for f in (instance.video, instance.poster) if f]
    if files:
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
