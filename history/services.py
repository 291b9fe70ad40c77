import logging

from django.db import transaction

from generation.transitions import TransitionRefused
from history.models import HistoryItem

logger = logging.getLogger(__name__)


def delete_history_item(*, item: HistoryItem) -> None:
    """Remove a finished card and its files. An unfinished one must be cancelled first,
    or its video would arrive with nowhere to go."""
    if not item.task.is_finished:
        raise TransitionRefused(item.task, "deleted")
    files = [f for f in (item.video, item.poster) if f]
    item_id = item.pk
    with transaction.atomic():
        item.delete()
        # Files go only once the row is gone for good.
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
    logger.info("history item %s deleted with %d file(s)", item_id, len(files))
