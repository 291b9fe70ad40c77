"""What a gallery card says about a video still being made: its estimated time left
and whether its submission is being retried."""

from django import template
from django.conf import settings
from django.utils.translation import gettext as _, ngettext

from generation.durations import seconds_choice, video_length
from generation.models import TaskStatus
from history.selectors import seconds_left

register = template.Library()


@register.simple_tag
def time_left(task, estimates) -> str:
    """ "About 40 s left", from the model's measured processing times; "" when none
    are known."""
    left = seconds_left(task, estimates or {})
    if left is None:
        return ""
    if left == 0:
        return _("Should be done any moment")
    if left < 90:
        return ngettext("About %(n)d second left", "About %(n)d seconds left", left) % {"n": left}
    minutes = round(left / 60)
    return ngettext("About %(n)d minute left", "About %(n)d minutes left", minutes) % {"n": minutes}


@register.simple_tag
def retry_note(task) -> str:
    """ "Retrying, attempt 2 of 5" while a failed submission waits for its next try (or
    is being sent again); "" otherwise."""
    waiting_to_retry = task.status == TaskStatus.PENDING and task.submit_attempts >= 1 and task.waiting != "breaker"
    sending_again = task.status == TaskStatus.SUBMITTING and task.submit_attempts >= 2
    if not (waiting_to_retry or sending_again):
        return ""
    attempt = task.submit_attempts + (1 if waiting_to_retry else 0)
    return _("Retrying, attempt %(attempt)d of %(total)d") % {
        "attempt": min(attempt, settings.SUBMIT_MAX_ATTEMPTS), "total": settings.SUBMIT_MAX_ATTEMPTS,
    }


@register.filter
def duration(seconds) -> str:
    """A video's length in the active language: "5.0 s", "1 min 30 s" (5.0초, 1분 30초)."""
    return video_length(seconds)


@register.filter
def seconds(value) -> str:
    """A duration a model offers, in the active language: "5 seconds" (5초)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    return seconds_choice(number)
