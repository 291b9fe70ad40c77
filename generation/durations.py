"""Video lengths as a person reads them, in the active language: "5 seconds" (5초) for
a model's choices, "5.0 s" / "1 min 30 s" (5.0초 / 1분 30초) for a finished video."""

from django.template.defaultfilters import floatformat
from django.utils.functional import lazy
from django.utils.translation import gettext, ngettext


def seconds_choice(seconds: int) -> str:
    """A duration a model offers: "5 seconds"."""
    return ngettext("%(n)s second", "%(n)s seconds", seconds) % {"n": seconds}


# For choices built when a form class is defined: read in the language of the request.
seconds_choice_lazy = lazy(seconds_choice, str)


def video_length(seconds: float | int | None) -> str:
    """A video's measured length: "5.0 s" under a minute, "1 min 30 s" above."""
    if seconds is None or seconds == "":
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": floatformat(seconds, 1)}
    minutes, rest = divmod(round(seconds), 60)
    if not rest:
        return gettext("%(minutes)s min") % {"minutes": minutes}
    return gettext("%(minutes)s min %(seconds)s s") % {"minutes": minutes, "seconds": rest}
