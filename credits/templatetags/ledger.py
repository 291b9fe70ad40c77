from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def ledger_note(entry) -> str:
    """An entry's note in the reader's language. A note the system wrote (no one's name
    on it: the welcome credits, a top-up) is kept in English and translated here; a note
    staff typed is shown as they typed it."""
    if not entry.note or entry.created_by_id is not None:
        return entry.note
    return gettext(entry.note)
