from django.db.models import QuerySet

from history.models import HistoryItem


def history_for(user, *, status: str = "", model_key: str = "") -> QuerySet[HistoryItem]:
    """A user's gallery, newest first, with what the cards show loaded in one query."""
    items = HistoryItem.objects.filter(user=user).select_related("task", "task__job")
    if status:
        items = items.filter(task__status=status)
    if model_key:
        items = items.filter(task__job__model_key=model_key)
    return items.order_by("-created_at")
