"""Numbers, amounts, durations and the site's time zone in the page's language.

In templates, ``{% load formats %}`` (registered in settings.TEMPLATES):

    {{ wallet.balance|credits }}        "1,250 credits" · "1,250 크레딧"
    {{ item.duration_seconds|seconds }} "5.2 s" · "5.2초"        (a video's length)
    {{ 125|duration }}                  "2 minutes 5 seconds" · "2분 5초"
    {% site_time_zone %}                "Coordinated Universal Time (UTC)" · "협정 세계시(UTC)"

Django's own filters already follow the language for the rest: ``naturaltime`` and
``intcomma`` ({% load humanize %}), ``filesizeformat``, and ``date`` with a named format
(``|date:"SHORT_DATETIME_FORMAT"``, ``|date:"DATE_FORMAT"``) rather than a fixed one.
The same functions serve Python code (messages built in services)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext

register = template.Library()

# The names of the time zones a site is likely to run in; any other is shown by its
# IANA name and its offset from UTC, which read the same in every language.
TIME_ZONE_NAMES = {
    "UTC": gettext_lazy("Coordinated Universal Time (UTC)"),
    "Etc/UTC": gettext_lazy("Coordinated Universal Time (UTC)"),
    "Asia/Seoul": gettext_lazy("Korean Standard Time (Asia/Seoul)"),
    "Europe/London": gettext_lazy("UK time (Europe/London)"),
    "Europe/Berlin": gettext_lazy("Central European Time (Europe/Berlin)"),
    "America/New_York": gettext_lazy("US Eastern Time (America/New_York)"),
    "America/Los_Angeles": gettext_lazy("US Pacific Time (America/Los_Angeles)"),
}


@register.filter
def credits(amount) -> str:
    """A number of credits, with the language's digit grouping."""
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        return ""
    return ngettext("%(amount)s credit", "%(amount)s credits", abs(amount)) % {"amount": intcomma(amount)}


@register.filter
def seconds(value, digits: int = 1) -> str:
    """A video's length in seconds, to one decimal: "5.2 s"."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return pgettext("a length in seconds, abbreviated", "%(seconds)s s") % {
        "seconds": number_format(value, decimal_pos=int(digits))
    }


@register.filter
def duration(total_seconds) -> str:
    """Whole seconds in words, largest unit first: "1 hour 2 minutes", "45 seconds"."""
    try:
        total = max(0, round(float(total_seconds)))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes:
        parts.append(ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes})
    if secs or not parts:
        parts.append(ngettext("%(count)d second", "%(count)d seconds", secs) % {"count": secs})
    return " ".join(parts)


def time_zone_name(zone: str | None = None) -> str:
    """The site's time zone (settings.TIME_ZONE), named in the active language."""
    zone = zone or settings.TIME_ZONE
    if zone in TIME_ZONE_NAMES:
        return str(TIME_ZONE_NAMES[zone])
    offset = datetime.now(ZoneInfo(zone)).strftime("%z")
    return gettext("%(zone)s (UTC%(offset)s)") % {"zone": zone, "offset": f"{offset[:3]}:{offset[3:]}"}


@register.simple_tag
def site_time_zone() -> str:
    return time_zone_name()
