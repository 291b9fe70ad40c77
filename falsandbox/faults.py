"""Which faults a request gets: from prompt markers, a ``sandbox_faults`` argument, or at random.

Markers look like ``#fault:no_webhook`` anywhere in the prompt. Submit faults have
``_once`` variants (``submit_500_once``) that fail only the first submit of the same
prompt, so an app's retry can be seen to succeed.
"""

from __future__ import annotations

import json
import random
import re
import threading
from typing import Any, Iterable, Optional

# account_locked: fal's 403 for an account whose balance ran out.
SUBMIT_FAULTS = ("submit_500", "submit_429", "submit_timeout", "account_locked")
# The request is created and runs, but the submit answer never reaches the caller: the
# case where a naive client resubmits and pays twice.
ANSWER_FAULTS = ("submit_lost_answer",)
# gateway_retry: fal retried the request internally, so the webhook's gateway_request_id
# (and the id it is signed with) names the last attempt, not the queue's request_id.
DELIVERY_FAULTS = ("no_webhook", "duplicate_webhook", "late_webhook", "gateway_retry")
# validation_422: a valid request fails the way fal's model-side validation fails one.
RUN_FAULTS = ("error", "validation_422")
# Ordered by precedence: a download can only misbehave one way at a time.
RESULT_FAULTS = (
    "result_500",
    "result_truncated",
    "result_wrong_type",
    "result_too_large",
    "result_slow",
    "result_not_video",
)
CANCEL_FAULTS = ("cancel_fail",)

BASE_FAULTS = SUBMIT_FAULTS + ANSWER_FAULTS + DELIVERY_FAULTS + RUN_FAULTS + RESULT_FAULTS + CANCEL_FAULTS
ONCE_FAULTS = tuple(f"{name}_once" for name in SUBMIT_FAULTS)
ALL_FAULTS = BASE_FAULTS + ONCE_FAULTS

_MARKER = re.compile(r"#fault:([A-Za-z0-9_]+)")


def parse_rates(spec: str) -> dict[str, float]:
    """``"submit_500=0.05,no_webhook=0.1"`` -> rates; raises ValueError on bad input."""
    rates: dict[str, float] = {}
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"fault rate {part!r} must look like name=0.1")
        if name not in BASE_FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(BASE_FAULTS)}")
        rate = float(value)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate for {name} must be between 0 and 1, got {rate}")
        rates[name] = rate
    return rates


def requested_names(arguments: dict[str, Any]) -> list[str]:
    """Fault names asked for by the caller, in order, without duplicates (unknown names kept)."""
    names: list[str] = []
    prompt = arguments.get("prompt")
    if isinstance(prompt, str):
        names.extend(match.lower() for match in _MARKER.findall(prompt))
    extra = arguments.get("sandbox_faults")
    if isinstance(extra, str):
        extra = [extra]
    if isinstance(extra, list):
        names.extend(str(item).lower() for item in extra)
    return list(dict.fromkeys(names))


def once_key(arguments: dict[str, Any]) -> str:
    prompt = arguments.get("prompt")
    if isinstance(prompt, str):
        return prompt
    return json.dumps(arguments, sort_keys=True, default=str)


class FaultPlanner:
    """Decides faults; thread-safe because the HTTP server handles requests in parallel."""

    def __init__(self, rates: Optional[dict[str, float]] = None, seed: Optional[int] = None) -> None:
        self.rates = dict(rates or {})
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._failed_once: set[tuple[str, str]] = set()

    def reset(self) -> None:
        with self._lock:
            self._failed_once.clear()

    def _roll(self, names: Iterable[str]) -> list[str]:
        # Caller holds the lock: random.Random is not meant to be shared unguarded.
        return [name for name in names if name in self.rates and self._rng.random() < self.rates[name]]

    def submit_fault(self, requested: list[str], key: str) -> Optional[str]:
        """The submit fault to apply to this one submit call, if any."""
        with self._lock:
            for name in requested:
                if name in SUBMIT_FAULTS:
                    return name
                if name in ONCE_FAULTS:
                    base = name.removesuffix("_once")
                    if (base, key) not in self._failed_once:
                        self._failed_once.add((base, key))
                        return base
            rolled = self._roll(SUBMIT_FAULTS)
            return rolled[0] if rolled else None

    def request_faults(self, requested: list[str]) -> list[str]:
        """Faults that stick to a created request for its whole life."""
        sticky = ANSWER_FAULTS + DELIVERY_FAULTS + RUN_FAULTS + RESULT_FAULTS + CANCEL_FAULTS
        with self._lock:
            chosen = [name for name in requested if name in sticky]
            chosen += [name for name in self._roll(sticky) if name not in chosen]
        return chosen


def unknown_names(requested: list[str]) -> list[str]:
    return [name for name in requested if name not in ALL_FAULTS]


def result_fault(faults: Iterable[str]) -> Optional[str]:
    present = set(faults)
    return next((name for name in RESULT_FAULTS if name in present), None)
