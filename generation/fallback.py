"""Fallback models: a video whose model is unavailable, or whose model failed it for a
provider reason, is made with the model's fallback (`ModelSpec.fallback`) instead, if
its job allows it (`Job.allow_fallback`, on by default).

When (the callers: `generation.submission`, `generation.services`):
- the model's provider group has its circuit breaker open, so the task would wait;
- the provider failed the task (a model error, fal's timeout, or a submit that gave up
  after its retries on 5xx and network errors): the request is finished at fal, or
  never reached it.
Never for a refused input (validation: the fallback would most likely refuse it too,
and fal may bill it), never for a task that may still be at the provider (a lost
submit answer, a task past its maximum age: sending another request could pay twice),
never from a fallback to its own fallback, and never when the fallback's own breaker
is open (the task then waits, or fails, as it would have).

How: the old attempt finishes (a failed one keeps its failure; a waiting one, which
never reached fal, is cancelled with the reason) and a new attempt is made on the
fallback (`transitions.new_attempt`), with the job's settings mapped onto the
fallback's own choices -- the nearest duration, aspect ratio and resolution it offers
-- and checked by the same request rules as a new job (`rules.check_request`) and
against fal's schema. The old attempt's credits come back when it finishes; the new
one holds the cheaper of the two models' prices (`credits.services.price_of`), which
is what it is charged when it completes. The card moves to the new attempt and says
"Made with X instead"."""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils.translation import gettext, gettext_noop

import falschemas
from credits.services import CreditRefused, reserve_for_tasks
from generation.catalog import END_IMAGE_PLACEHOLDER, IMAGE_PLACEHOLDER, ModelSpec, get_model
from generation.models import ErrorKind, Task, TaskStatus, Waiting
from generation.said import model_named, said
from generation.planning import SEED_LIMIT, JobMode
from generation.rules import RequestRefused, check_input_images, check_request
from generation.styles import NO_STYLE, compose_prompt
from generation.tasks import enqueue_submit_task
from generation.transitions import TransitionRefused, new_attempt, transition_task
from history.models import HistoryItem
from history.services import move_card

logger = logging.getLogger(__name__)

# Failures that say the provider could not make the video, not that the request is wrong.
PROVIDER_REASONS = frozenset({ErrorKind.PROVIDER, ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.QUOTA})


@dataclass(frozen=True)
class Replan:
    """A task's video as the fallback model makes it."""

    spec: ModelSpec
    arguments: dict[str, Any]
    aspect_ratio: str
    seed: int | None


# --- mapping the settings onto the fallback's choices -------------------------------


def nearest_duration(seconds: int, offered: Sequence[int]) -> int:
    """The offered duration closest to `seconds` (the shorter one on a tie)."""
    return min(offered, key=lambda d: (abs(d - seconds), d))


def _ratio_value(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return float(width) / float(height)


def nearest_ratio(ratio: str, offered: Sequence[str]) -> str:
    """The offered aspect ratio closest in shape to `ratio` (compared as log width/height,
    so 2:1 and 1:2 are as far from 1:1); the model's default (its first) without one."""
    if not offered:
        return ""
    if not ratio:
        return offered[0]
    wanted = math.log(_ratio_value(ratio))
    return min(offered, key=lambda r: (abs(math.log(_ratio_value(r)) - wanted), offered.index(r)))


def _lines(resolution: str) -> int:
    """The video's height in lines from names like 720p, 512P, 4k."""
    if resolution.lower() == "4k":
        return 2160
    digits = re.match(r"\d+", resolution)
    return int(digits.group()) if digits else 0


def nearest_resolution(resolution: str, offered: Sequence[str], default: str) -> str:
    """The offered resolution closest to `resolution` in lines (the lower on a tie);
    the model's default without one."""
    if not offered:
        return ""
    if not resolution or not _lines(resolution):
        return default
    wanted = math.log(_lines(resolution))
    return min(offered, key=lambda r: (abs(math.log(max(_lines(r), 1)) - wanted), _lines(r)))


def replan(task: Task, fallback: ModelSpec) -> Replan:
    """This task's video on `fallback`: the job's settings mapped onto its choices and
    checked by the request rules and fal's schema. RequestRefused when the fallback
    cannot make it (e.g. sound asked of a silent model, or an input image it refuses)."""
    job = task.job
    own = get_model(job.model_key)
    params = job.params or {}
    duration = nearest_duration(params.get("duration") or own.seconds_of(task.arguments), fallback.durations)
    ratio = nearest_ratio(task.aspect_ratio, fallback.aspect_ratios)
    resolution = nearest_resolution(params.get("resolution") or "", fallback.resolutions, fallback.default_resolution)
    audio = params.get("audio")
    if audio is not None and not fallback.audio and not audio:
        audio = None  # "no sound" needs no switch on a silent model
    style = task.style or NO_STYLE
    checked = check_request(
        model_key=fallback.key,
        prompt=job.prompt,
        duration=duration,
        styles=[] if style == NO_STYLE else [style],
        aspect_ratios=[ratio] if ratio else [],
        mode=JobMode.SINGLE,
        count=1,
        negative_prompt=params.get("negative_prompt") or "",
        resolution=resolution,
        audio=audio,
        image=bool(job.input_image),
        end_image=bool(job.input_end_image),
    )
    _check_stored_images(fallback, job)
    seed = None
    if fallback.seed:
        seed = task.seed if task.seed is not None else secrets.randbelow(SEED_LIMIT)
    arguments = fallback.build_arguments(
        prompt=compose_prompt(checked.prompt, style), duration=checked.duration, aspect_ratio=ratio,
        resolution=checked.resolution, audio=checked.audio, negative_prompt=checked.negative_prompt, seed=seed,
    )
    # The images are added at submit; checked here by their places.
    sent = {**arguments, **fallback.image_arguments(
        image_url=IMAGE_PLACEHOLDER if job.input_image else None,
        end_image_url=END_IMAGE_PLACEHOLDER if job.input_end_image else None,
    )}
    problems = falschemas.validate(fallback.endpoint, sent)
    if problems:
        raise RequestRefused({"model": [gettext("%(model)s would refuse this request: %(problems)s") % {"model": fallback.label, "problems": problems}]})
    return Replan(spec=fallback, arguments=arguments, aspect_ratio=ratio, seed=seed)


def _check_stored_images(fallback: ModelSpec, job) -> None:
    """The job's stored input images against the fallback's own image limits."""
    files = {}
    try:
        for name, stored in (("image", job.input_image), ("end_image", job.input_end_image)):
            if stored:
                stored.open("rb")
                files[name] = stored
        check_input_images(spec=fallback, **files)
    finally:
        for stored in files.values():
            stored.close()


# --- when, and doing it ---------------------------------------------------------------


def fallback_for(task: Task) -> ModelSpec | None:
    """The model this task may fall back to, by its job's choice and the catalog; None
    if the job does not allow it, the model names none, or the task is already on it."""
    if not task.job.allow_fallback or task.made_with:
        return None
    name = get_model(task.job.model_key).fallback
    try:
        return get_model(name) if name else None
    except KeyError:
        return None


def may_fall_back(task: Task) -> bool:
    """Whether the task is in a state a fallback may start from: waiting behind its
    group's breaker, or failed by the provider in a way that leaves no request of it
    running at fal (see the module's docstring for who decides that)."""
    if task.status == TaskStatus.PENDING:
        return task.waiting == Waiting.BREAKER
    return task.status == TaskStatus.FAILED and task.error_kind in PROVIDER_REASONS


def fall_back(*, task_id: UUID | str) -> Task | None:
    """Re-plan the task on its model's fallback if it and its job allow it (see the
    module's docstring); returns the new attempt, or None when it stays as it is.
    Call it once the caller has recorded why the task waits or failed; run inside the
    caller's transaction, it commits or rolls back with that."""
    # operations imports the models; the breaker's state is read, not locked: taking a
    # second group's lock here could wait in a circle with a worker of that group.
    from operations.selectors import breaker_is_open

    task = Task.objects.select_related("job").get(pk=task_id)
    fallback = fallback_for(task)
    if fallback is None or not may_fall_back(task) or hasattr(task, "retried_by"):
        return None
    if breaker_is_open(fallback.group):
        logger.info("task %s stays: its fallback %s is unavailable too", task.pk, fallback.key)
        return None
    try:
        plan = replan(task, fallback)
    except RequestRefused as refused:
        logger.info("task %s cannot fall back to %s: %s", task.pk, fallback.key, refused.errors)
        return None
    own = get_model(task.job.model_key)
    try:
        with transaction.atomic():
            # Its card is where the user would see the video (locked, as a retry does):
            # a video whose card was deleted is not made again at all.
            if not HistoryItem.objects.select_for_update().filter(task=task).exists():
                raise TransitionRefused(task, TaskStatus.PENDING)
            if task.status == TaskStatus.PENDING:
                transition_task(
                    task.pk,
                    TaskStatus.CANCELLED,
                    only_from=[TaskStatus.PENDING],
                    error_kind=ErrorKind.PROVIDER,
                    error_message=said(
                        gettext_noop("%(model)s was unavailable; made with %(fallback)s instead."),
                        model=model_named(own.key), fallback=model_named(fallback.key),
                    ),
                )
            new = new_attempt(
                task.pk,
                made_with=fallback.key,
                endpoint=fallback.endpoint,
                arguments=plan.arguments,
                aspect_ratio=plan.aspect_ratio,
                seed=plan.seed,
            )
            reserve_for_tasks(user=task.job.user, tasks=[new])
            move_card(from_task=task, to_task=new)
            enqueue_submit_task(new.pk)
    except (TransitionRefused, CreditRefused) as refused:
        # Moved meanwhile (cancelled, sent), retried already, or the user may not
        # start another video today: it stays as it was.
        logger.info("task %s does not fall back to %s: %s", task.pk, fallback.key, refused)
        return None
    logger.info("task %s of %s re-planned on %s as %s", task.pk, own.key, fallback.key, new.pk)
    return new
