"""Recording staff actions. Every staff action on an object runs through
`perform_staff_action`, which writes the audit entry before the action runs (so even
an action that crashes is on record) and its outcome after."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from audit.models import Action, AuditEntry, Result

logger = logging.getLogger(__name__)


class ReasonRequired(ValueError):
    """A staff action without a reason is not recorded, and so not performed."""


@dataclass(frozen=True)
class Outcome:
    """What an action did to one object: `result` for sorting, `code` stable for
    programs (e.g. url_expired), `message` for the person who asked."""

    result: Result
    message: str
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
        raise ReasonRequired("Say why: every staff action is recorded with its reason.")
    meta = target._meta
    entry = AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        target_type=str(meta.verbose_name),
        target_app_label=meta.app_label,
        target_model=meta.model_name,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        reason=reason,
        details=details or {},
    )
    try:
        outcome = run(entry)
    except Exception as exc:
        logger.exception("staff action %s on %s %s crashed", action, entry.target_type, entry.target_id)
        outcome = Outcome(Result.FAILED, f"Something went wrong: {type(exc).__name__}: {exc}"[:1000], "error")
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
    entry.message = outcome.message
    entry.details = {**entry.details, **outcome.details}
    entry.finished_at = None if outcome.result == Result.PENDING else timezone.now()
    written = AuditEntry.objects.filter(pk=entry.pk, result=Result.PENDING).update(
        result=entry.result, outcome=entry.outcome, message=entry.message, details=entry.details, finished_at=entry.finished_at
    )
    if written:
        logger.info(
            "staff %s: %s %s %s -> %s (%s)",
            entry.actor_name, entry.action, entry.target_type, entry.target_id, outcome.result, outcome.message,
        )
    else:
        entry.refresh_from_db()
    return bool(written)
