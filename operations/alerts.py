"""Alerts: thresholds on the measures in operations.selectors. Passing one opens an
incident and mails ADMINS once; falling back below it resolves the incident and mails
once more. Open incidents show as a banner in the admin.

`evaluate_alerts` is run by the reconciler every ALERT_CHECK_SECONDS. Any number of
reconcilers may run it at once: an incident opens by an insert the database allows
once per rule, and resolves by a conditional update, and only the process whose write
took effect sends the mail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from operations import selectors
from operations.models import AlertIncident

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    value: float
    # False when there is too little to judge (a failure rate over two tasks, say).
    enough: bool = True


@dataclass(frozen=True)
class Rule:
    key: str
    label: str  # lazy: in the reader's language
    setting: str  # the threshold's setting; 0 turns the rule off
    read: Callable[[datetime], Reading]
    describe: Callable[[float], str]

    @property
    def threshold(self) -> float:
        return float(getattr(settings, self.setting))


def _window(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.ALERT_WINDOW_SECONDS)


def _error_rate(now: datetime) -> Reading:
    failed, decided = selectors.error_rate(since=_window(now))
    return Reading(failed / decided if decided else 0.0, enough=decided >= settings.ALERT_ERROR_RATE_MIN_TASKS)


def _minutes(seconds: float) -> str:
    return _("%(minutes)s min") % {"minutes": number_format(seconds / 60, 0)}


def _count(value: float) -> str:
    return number_format(value, 0, force_grouping=True)


# Each description is said in the active language: English when an incident is stored
# and mailed (the reconciler's), the reader's when the admin shows an open one.
RULES = (
    Rule(
        "error_rate", gettext_lazy("Error rate"), "ALERT_ERROR_RATE", _error_rate,
        lambda v: _("%(percent)s%% of the videos finished in the last %(window)s failed")
        % {"percent": number_format(v * 100, 0), "window": _minutes(settings.ALERT_WINDOW_SECONDS)},
    ),
    Rule(
        "oldest_waiting", gettext_lazy("Oldest waiting task"), "ALERT_OLDEST_WAITING_SECONDS",
        lambda now: Reading(selectors.oldest_waiting_seconds(now=now)),
        lambda v: _("a video has waited %(minutes)s to be made") % {"minutes": _minutes(v)},
    ),
    Rule(
        "backlog", gettext_lazy("Backlog"), "ALERT_BACKLOG", lambda now: Reading(selectors.backlog()),
        lambda v: _("%(count)s videos are not finished") % {"count": _count(v)},
    ),
    Rule(
        "spend", gettext_lazy("Spend today"), "ALERT_SPEND_USD_PER_DAY",
        lambda now: Reading(float(selectors.spend_today(now=now))),
        lambda v: _("$%(amount)s spent at the providers today (UTC)") % {"amount": number_format(v, 2, force_grouping=True)},
    ),
    Rule(
        "breaker", gettext_lazy("Circuit breaker open"), "ALERT_OPEN_BREAKERS",
        lambda now: Reading(len(selectors.open_breakers())),
        lambda v: _("%(count)s circuit breaker(s) open: %(groups)s")
        % {"count": _count(v), "groups": ", ".join(selectors.open_breakers())},
    ),
    Rule(
        "refused_signatures", gettext_lazy("Refused webhook signatures"), "ALERT_REFUSED_SIGNATURES",
        lambda now: Reading(selectors.refused_signatures(since=_window(now))),
        lambda v: _("%(count)s webhook deliveries refused for their signature in the last %(window)s")
        % {"count": _count(v), "window": _minutes(settings.ALERT_WINDOW_SECONDS)},
    ),
)
RULE_LABELS = {rule.key: rule.label for rule in RULES}
RULES_BY_KEY = {rule.key: rule for rule in RULES}


def summary_of(incident: AlertIncident) -> str:
    """An open incident's summary in the reader's language (the stored one is in the
    site's language, as it was mailed)."""
    rule = RULES_BY_KEY.get(incident.rule)
    return rule.describe(incident.value) if rule else incident.summary


@dataclass(frozen=True)
class Change:
    rule: str
    opened: bool  # False: resolved
    summary: str


def evaluate_alerts(*, now: datetime | None = None) -> list[Change]:
    """Check every rule once: open an incident for each threshold newly passed, resolve
    each open one whose measure is back below it. Returns what changed."""
    now = now or timezone.now()
    changes = []
    for rule in RULES:
        threshold = rule.threshold
        reading = rule.read(now)
        firing = threshold > 0 and reading.enough and reading.value >= threshold
        open_incident = AlertIncident.objects.filter(rule=rule.key, resolved_at__isnull=True).first()
        if firing and open_incident is None:
            change = _open(rule, reading.value, threshold, now)
        elif firing:
            AlertIncident.objects.filter(pk=open_incident.pk, value__lt=reading.value).update(value=reading.value)
            change = None
        elif open_incident is not None:
            change = _resolve(rule, open_incident, reading.value, now)
        else:
            change = None
        if change is not None:
            changes.append(change)
    return changes


def _open(rule: Rule, value: float, threshold: float, now: datetime) -> Change | None:
    with translation.override(settings.LANGUAGE_CODE):
        return _open_incident(rule, value, threshold, now)


def _open_incident(rule: Rule, value: float, threshold: float, now: datetime) -> Change | None:
    summary = rule.describe(value)[:300]
    try:
        with transaction.atomic():
            incident = AlertIncident.objects.create(
                rule=rule.key, opened_at=now, value=value, threshold=threshold, summary=summary
            )
            subject = _("ALERT %(rule)s: %(summary)s") % {"rule": rule.label, "summary": summary}
            text = _opened_text(rule, incident)
            transaction.on_commit(lambda: _mail(subject, text))
    except IntegrityError:
        return None  # another process opened it a moment ago, and mails about it
    logger.warning("alert opened: %s: %s", rule.key, summary)
    return Change(rule.key, True, summary)


def _resolve(rule: Rule, incident: AlertIncident, value: float, now: datetime) -> Change | None:
    with translation.override(settings.LANGUAGE_CODE):
        return _resolve_incident(rule, incident, value, now)


def _resolve_incident(rule: Rule, incident: AlertIncident, value: float, now: datetime) -> Change | None:
    with transaction.atomic():
        if not AlertIncident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(resolved_at=now):
            return None  # another process resolved it
        summary = _("back to normal: %(now)s") % {"now": rule.describe(value)}
        text = _(
            "%(rule)s is below its threshold again.\n\nNow: %(now)s.\n"
            "Open since %(opened)s UTC (%(open_for)s); worst: %(worst)s.\n"
        ) % {
            "rule": rule.label,
            "now": rule.describe(value),
            "opened": f"{incident.opened_at:%Y-%m-%d %H:%M:%S}",
            "open_for": _minutes((now - incident.opened_at).total_seconds()),
            "worst": rule.describe(incident.value),
        }
        subject = _("RESOLVED %(rule)s") % {"rule": rule.label}
        transaction.on_commit(lambda: _mail(subject, text))
    logger.info("alert resolved: %s", rule.key)
    return Change(rule.key, False, summary)


def _opened_text(rule: Rule, incident: AlertIncident) -> str:
    return _(
        "%(rule)s: %(summary)s.\n"
        "Threshold (%(setting)s): %(threshold)s.\n"
        "Opened %(opened)s UTC. You will get one more mail when it is resolved; "
        "until then it shows as a banner in the admin.\n"
    ) % {
        "rule": rule.label,
        "summary": incident.summary,
        "setting": rule.setting,
        "threshold": f"{incident.threshold:g}",
        "opened": f"{incident.opened_at:%Y-%m-%d %H:%M:%S}",
    }


def _mail(subject: str, text: str) -> None:
    try:
        mail_admins(subject, text)
    except Exception:  # a mail server down must not stop the checks; the log keeps it
        logger.exception("could not mail the admins: %s", subject)
