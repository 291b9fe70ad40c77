"""The request rules: what a generation request may ask for, for the chosen model.

One place decides: `start_generation` enforces these rules itself, and the Generate
form and the JSON API only translate the refusal into field errors. `check_plan` is
the part the form's live "N videos · N credits" line needs; `check_request` is the
whole rule set and the only function callers use to validate a request."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from generation.catalog import MODELS, PROMPT_MAX_CHARS, ModelSpec, get_model
from generation.input_images import image_problems
from generation.planning import MAX_VIDEOS_PER_JOB, SEED_LIMIT, JobMode, Plan, Variant, plan_job
from generation.styles import STYLES, compose_prompt

NON_FIELD = "__all__"
STYLE_KEYS = {style.key for style in STYLES}


def has_visible_text(text: str) -> bool:
    """Whether a prompt shows anything: zero-width and other format characters
    (U+200B, U+2060, U+FEFF, ...) and every kind of space do not count."""
    return any(not ch.isspace() and unicodedata.category(ch) not in INVISIBLE_CATEGORIES for ch in text)


INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


class RequestRefused(ValueError):
    """The request breaks a rule. `errors` maps a field name (or NON_FIELD) to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


@dataclass(frozen=True)
class CheckedRequest:
    """A request that keeps every rule, with the model's defaults filled in."""

    spec: ModelSpec
    prompt: str
    duration: int
    resolution: str
    audio: bool | None  # None: the model has no sound switch
    negative_prompt: str
    seed: int | None
    plan: Plan

    def arguments_for(self, variant: Variant) -> dict:
        """What is sent to the model for one planned video, images aside (they are
        added at submit under the model's own field names)."""
        return self.spec.build_arguments(
            prompt=compose_prompt(self.prompt, variant.style),
            duration=self.duration,
            aspect_ratio=variant.aspect_ratio,
            resolution=self.resolution,
            audio=self.audio,
            negative_prompt=self.negative_prompt,
            seed=variant.seed,
        )


class _Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _choices(values: Sequence) -> str:
    values = [str(value) for value in values]
    if len(values) == 1:
        return values[0]
    return _("%(first)s or %(last)s") % {"first": ", ".join(values[:-1]), "last": values[-1]}


def _model(model_key: str, errors: _Errors) -> ModelSpec | None:
    try:
        return get_model(model_key)
    except KeyError:
        errors.add("model", _("Choose one of the models: %(models)s.") % {"models": ", ".join(m.key for m in MODELS)})
        return None


def _plan_rules(
    spec: ModelSpec, errors: _Errors, *, styles: Sequence[str], aspect_ratios: Sequence[str], mode: str,
    count: int | None, seed: int | None,
) -> Plan | None:
    unknown = [style for style in styles if style not in STYLE_KEYS]
    if unknown:
        errors.add("styles", _("Unknown style %(unknown)s; choose from %(styles)s.") % {
            "unknown": _choices(unknown), "styles": ", ".join(sorted(STYLE_KEYS)),
        })
    if aspect_ratios and not spec.aspect_ratios:
        if spec.takes_image:
            message = _("%(model)s keeps the shape of your image and takes no aspect ratio.")
        else:
            message = _("%(model)s makes one frame shape and takes no aspect ratio.")
        errors.add("aspect_ratios", message % {"model": spec.label})
    unsupported = [ratio for ratio in aspect_ratios if spec.aspect_ratios and ratio not in spec.aspect_ratios]
    if unsupported:
        errors.add("aspect_ratios", _("%(model)s supports %(ratios)s.") % {"model": spec.label, "ratios": ", ".join(spec.aspect_ratios)})
    if mode not in JobMode.values:
        errors.add("mode", _("Choose %(modes)s.") % {"modes": _choices(JobMode.values)})
    elif mode == JobMode.BATCH:
        if count is None:
            errors.add("count", _("Choose how many videos to make."))
        elif not 1 <= count <= MAX_VIDEOS_PER_JOB:
            errors.add("count", _("Make between 1 and %(max)s videos.") % {"max": MAX_VIDEOS_PER_JOB})
    if seed is not None:
        if not spec.seed:
            errors.add("seed", _("%(model)s takes no seed; clear it or choose a model that does.") % {"model": spec.label})
        elif not 0 <= seed < SEED_LIMIT:
            errors.add("seed", _("A seed is a whole number from 0 to %(max)s.") % {"max": SEED_LIMIT - 1})
    if errors:
        return None
    plan = plan_job(spec=spec, styles=styles, aspect_ratios=aspect_ratios, mode=mode, count=count or 1, seed=seed)
    if plan.count > MAX_VIDEOS_PER_JOB:
        errors.add(
            NON_FIELD,
            _(
                "%(plan)s: a job makes at most %(max)s videos. "
                "Choose fewer styles or ratios, or make a number of videos instead."
            ) % {"plan": plan.describe(), "max": MAX_VIDEOS_PER_JOB},
        )
        return None
    return plan


def check_plan(
    *, model_key: str, styles: Sequence[str] = (), aspect_ratios: Sequence[str] = (), mode: str = JobMode.SINGLE,
    count: int | None = 1, seed: int | None = None,
) -> Plan:
    """How many videos, and which, a request makes; RequestRefused if it may not."""
    errors = _Errors()
    spec = _model(model_key, errors)
    plan = None
    if spec is not None:
        plan = _plan_rules(spec, errors, styles=styles, aspect_ratios=aspect_ratios, mode=mode, count=count, seed=seed)
    if errors:
        raise RequestRefused(dict(errors))
    return plan


def check_request(
    *,
    model_key: str,
    prompt: str,
    duration: int | None = None,
    styles: Sequence[str] = (),
    aspect_ratios: Sequence[str] = (),
    mode: str = JobMode.SINGLE,
    count: int | None = 1,
    seed: int | None = None,
    negative_prompt: str = "",
    resolution: str = "",
    audio: bool | None = None,
    image: bool = False,
    end_image: bool = False,
) -> CheckedRequest:
    """Every rule a generation request must keep, for its model. Returns the request
    with the model's defaults filled in, or raises RequestRefused naming every broken
    rule by field. Nothing given is dropped: a value the model cannot take is refused."""
    errors = _Errors()
    spec = _model(model_key, errors)
    if spec is None:
        raise RequestRefused(dict(errors))

    prompt = " ".join((prompt or "").split())
    if not has_visible_text(prompt):
        errors.add("prompt", _("Describe the video you want."))
    elif len(prompt) > PROMPT_MAX_CHARS:
        errors.add("prompt", _("Keep the prompt to %(max)s characters (it has %(length)s).") % {"max": PROMPT_MAX_CHARS, "length": len(prompt)})

    if duration is None:
        duration = spec.default_duration
    elif duration not in spec.durations:
        errors.add("duration", _("%(model)s makes videos of %(durations)s seconds.") % {"model": spec.label, "durations": _choices(spec.durations)})

    if not resolution:
        resolution = spec.default_resolution
    elif resolution not in spec.resolutions:
        if spec.resolutions:
            errors.add("resolution", _("%(model)s makes %(resolutions)s videos.") % {"model": spec.label, "resolutions": _choices(spec.resolutions)})
        else:
            errors.add("resolution", _("%(model)s has one resolution; leave it empty.") % {"model": spec.label})

    if audio is None:
        audio = spec.default_audio if spec.audio else None
    elif audio and not spec.audio:
        errors.add("audio", _("%(model)s makes silent videos; turn sound off or choose a model with sound.") % {"model": spec.label})
    elif not spec.audio:
        audio = None

    negative_prompt = (negative_prompt or "").strip()
    if negative_prompt and not spec.negative_prompt:
        errors.add("negative_prompt", _("%(model)s takes nothing to avoid; clear it or choose a model that does.") % {"model": spec.label})
    elif len(negative_prompt) > PROMPT_MAX_CHARS:
        errors.add("negative_prompt", _("Keep it to %(max)s characters.") % {"max": PROMPT_MAX_CHARS})

    if not errors.keys() & {"duration", "resolution", "audio"}:
        combination = spec.combination_refused(
            spec.build_arguments(prompt=prompt, duration=duration, resolution=resolution, audio=audio)
        )
        if combination:
            errors.add("duration", combination)

    if spec.requires_image and not image:
        errors.add("image", _("%(model)s needs an input image.") % {"model": spec.label})
    if image and not spec.takes_image:
        errors.add("image", _("%(model)s makes videos from text only; choose an image-to-video model or remove the image.") % {"model": spec.label})
    if end_image and not spec.takes_end_image:
        errors.add("end_image", _("%(model)s takes no last-frame image; remove it or choose a model that does.") % {"model": spec.label})

    plan = _plan_rules(spec, errors, styles=styles, aspect_ratios=aspect_ratios, mode=mode, count=count, seed=seed)
    if plan is not None and prompt:
        longest = max((compose_prompt(prompt, style) for style in plan.styles), key=len)
        if len(longest) > PROMPT_MAX_CHARS:
            errors.add(
                "prompt",
                _(
                    "With the chosen styles the prompt would be %(length)s characters; "
                    "shorten it by %(over)s or choose other styles."
                ) % {"length": len(longest), "over": len(longest) - PROMPT_MAX_CHARS},
            )
    if errors:
        raise RequestRefused(dict(errors))
    return CheckedRequest(
        spec=spec, prompt=prompt, duration=duration, resolution=resolution, audio=audio,
        negative_prompt=negative_prompt, seed=seed, plan=plan,
    )


def check_input_images(*, spec: ModelSpec, image=None, end_image=None) -> None:
    """The input images against the model's own limits (smallest side, longest side,
    shape, size, format), before anything is spent; RequestRefused names the field."""
    errors = _Errors()
    for name, file in (("image", image), ("end_image", end_image)):
        if file is not None:
            for problem in image_problems(limits=spec.image_limits, image=file):
                errors.add(name, problem)
    if errors:
        raise RequestRefused(dict(errors))
