"""Recording staff actions. Every staff action on an object runs through
`perform_staff_action`, which writes the audit entry before the action runs (so even
an action that crashes is on record) and its outcome after."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from audit.models import Action, AuditEntry, Result

logger = logging.getLogger(__name__)


class ReasonRequired(ValueError):
    """A staff action without a reason is not recorded, and so not performed."""


@dataclass(frozen=True)
class Text:
    """A message for the audit log, kept in English with its parameters and translated
    whenever it is shown (the log is read in any language). Mark `msgid` with
    `gettext_noop` so that it is extracted."""

    msgid: str
    params: dict = field(default_factory=dict)

    def english(self) -> str:
        return self.msgid % self.params if self.params else self.msgid

    def translated(self) -> str:
        return gettext(self.msgid) % self.params if self.params else gettext(self.msgid)


def shown(msgid: str, params: dict | None) -> str:
    """A stored `Text` in the reader's language; the English if it no longer fits."""
    try:
        return Text(msgid, params or {}).translated()
    except (KeyError, ValueError, TypeError):
        return Text(msgid, params or {}).english()


@dataclass(frozen=True)
class Outcome:
    """What an action did to one object: `result` for sorting, `code` stable for
    programs (e.g. url_expired), `message` for the person who asked: a `Text`, or
    a string shown as it is."""

    result: Result
    message: str | Text
    code: str = ""
    details: dict = field(default_factory=dict)


def perform_staff_action(
    *,
    actor,
    action: Action,
    target,
    reason: str,
    run: Callable[[AuditEntry], Outcome],
    details: dict | None = None,
) -> AuditEntry:
    """Record that `actor` does `action` to `target` because of `reason`, run it, and
    record its outcome. `run` receives the entry (a background step finishes it later
    with `finish_staff_action` when it returns a PENDING outcome). An unexpected
    exception in `run` is recorded as FAILED and logged, never lost."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(gettext("Say why: every staff action is recorded with its reason."))
    meta = target._meta
    # The record is kept in the site's language, whatever the staff member reads in.
    with translation.override(settings.LANGUAGE_CODE):
        target_type, target_label = str(meta.verbose_name), str(target)[:200]
    entry = AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        target_type=target_type,
        target_app_label=meta.app_label,
        target_model=meta.model_name,
        target_id=str(target.pk),
        target_label=target_label,
        reason=reason,
        details=details or {},
    )
    try:
        outcome = run(entry)
    except Exception as exc:
        logger.exception("staff action %s on %s %s crashed", action, entry.target_type, entry.target_id)
        problem = f"{type(exc).__name__}: {exc}"[:900]
        outcome = Outcome(Result.FAILED, Text(gettext_noop("Something went wrong: %(problem)s"), {"problem": problem}), "error")
    _write_outcome(entry, outcome)
    return entry


def finish_staff_action(*, entry_id: int, outcome: Outcome) -> bool:
    """Fill in the outcome of an action that ran in the background. Only once: a
    finished entry keeps its first outcome (the step may run twice)."""
    entry = AuditEntry.objects.filter(pk=entry_id).first()
    return entry is not None and _write_outcome(entry, outcome)


def _write_outcome(entry: AuditEntry, outcome: Outcome) -> bool:
    """Write an outcome onto a still-pending entry. Conditional, because a background
    step may finish the entry before the request that queued it writes "queued"."""
    entry.result = outcome.result
    entry.outcome = outcome.code[:32]
    text = outcome.message if isinstance(outcome.message, Text) else None
    entry.message = text.english() if text else outcome.message
    entry.message_id = text.msgid if text else ""
    entry.message_params = text.params if text else {}
    entry.details = {**entry.details, **outcome.details}
    entry.finished_at = None if outcome.result == Result.PENDING else timezone.now()
    written = AuditEntry.objects.filter(pk=entry.pk, result=Result.PENDING).update(
        result=entry.result, outcome=entry.outcome, message=entry.message, message_id=entry.message_id,
        message_params=entry.message_params, details=entry.details, finished_at=entry.finished_at,
    )
    if written:
        logger.info(
            "staff %s: %s %s %s -> %s (%s)",
            entry.actor_name, entry.action, entry.target_type, entry.target_id, outcome.result, entry.message,
        )
    else:
        entry.refresh_from_db()
    return bool(written)
