"""How many videos a request makes, and which: the one place the counting rules live.

A job varies along two axes, style presets and aspect ratios. SINGLE mode makes every
combination once. BATCH mode makes exactly the number asked for, walking the
combinations round-robin in style-major order (A/16:9, A/9:16, B/16:9, ...) and
starting again from the first when it runs out; each round after the first gets the
next seed, so a repeated combination is a new video and not the same one twice.

Everything here is pure: the form's live summary, the form and the API's validation,
and `start_generation` all ask the same functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from generation.catalog import ModelSpec
from generation.styles import NO_STYLE

MAX_VIDEOS_PER_JOB = 20
SEED_LIMIT = 2**31  # seeds are 0 .. 2**31 - 1 everywhere we pass them on


class JobMode(models.TextChoices):
    SINGLE = "single", _("Every combination once")
    BATCH = "batch", _("A number of videos")


@dataclass(frozen=True)
class Variant:
    index: int
    style: str
    aspect_ratio: str  # "" for models that follow the input image's shape
    seed: int | None


@dataclass(frozen=True)
class Plan:
    styles: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    mode: str
    variants: tuple[Variant, ...]
    credits_per_video: int

    @property
    def count(self) -> int:
        return len(self.variants)

    @property
    def credits(self) -> int:
        return self.count * self.credits_per_video

    @property
    def combinations(self) -> int:
        return len(self.styles) * len(self.aspect_ratios)

    @property
    def repeats(self) -> bool:
        return self.count > self.combinations

    def describe(self) -> str:
        """The line the form shows: "3 styles × 2 aspect ratios = 6 videos · 6 credits"."""
        axes = _count(ngettext("%(n)s style", "%(n)s styles", len(self.styles)), len(self.styles))
        if self.aspect_ratios != ("",):
            ratios = len(self.aspect_ratios)
            axes = gettext("%(styles)s × %(ratios)s") % {
                "styles": axes, "ratios": _count(ngettext("%(n)s aspect ratio", "%(n)s aspect ratios", ratios), ratios),
            }
        cost = _count(ngettext("%(n)s credit", "%(n)s credits", self.credits), self.credits)
        videos = _count(ngettext("%(n)s video", "%(n)s videos", self.count), self.count)
        if self.mode == JobMode.SINGLE:
            return gettext("%(axes)s = %(videos)s · %(cost)s") % {"axes": axes, "videos": videos, "cost": cost}
        combinations = _count(
            ngettext("%(n)s combination", "%(n)s combinations", self.combinations), self.combinations
        )
        if self.repeats:
            spread = gettext("%(combinations)s, %(again)s repeated with new seeds") % {
                "combinations": combinations, "again": self.count - self.combinations,
            }
        else:
            spread = gettext("%(count)s of %(combinations)s") % {"count": self.count, "combinations": combinations}
        return gettext("%(videos)s over %(axes)s (%(spread)s) · %(cost)s") % {
            "videos": videos, "axes": axes, "spread": spread, "cost": cost,
        }


def _count(text: str, number: int) -> str:
    return text % {"n": number}


def plural(number: int, noun: str) -> str:
    """English only ("3 videos"): for staff-facing text. What users read goes through
    ngettext instead."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def normalise_axes(spec: ModelSpec, styles: Sequence[str], aspect_ratios: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The axes as planned: duplicates dropped (order kept), no style meaning "none",
    no ratio meaning the model's first, and a single empty ratio for models that
    follow the input image. Membership is checked by the form, not here."""
    chosen_styles = tuple(dict.fromkeys(styles)) or (NO_STYLE,)
    if not spec.aspect_ratios:
        return chosen_styles, ("",)
    return chosen_styles, tuple(dict.fromkeys(aspect_ratios)) or (spec.aspect_ratios[0],)


def plan_variants(
    *, styles: Sequence[str], aspect_ratios: Sequence[str], mode: str, count: int = 1, seed: int | None = None
) -> tuple[Variant, ...]:
    """The variants in order. SINGLE ignores `count`. Round r (0-based) of a BATCH
    that wraps uses seed + r; with no seed every round leaves the seed to the model."""
    combinations = [(style, ratio) for style in styles for ratio in aspect_ratios]
    if not combinations:
        raise ValueError("a plan needs at least one style and one aspect ratio")
    total = len(combinations) if mode == JobMode.SINGLE else count
    if total < 1:
        raise ValueError("a plan makes at least one video")
    variants = []
    for index in range(total):
        round_number, position = divmod(index, len(combinations))
        style, ratio = combinations[position]
        variant_seed = None if seed is None else (seed + round_number) % SEED_LIMIT
        variants.append(Variant(index=index, style=style, aspect_ratio=ratio, seed=variant_seed))
    return tuple(variants)


def plan_job(
    *,
    spec: ModelSpec,
    styles: Sequence[str],
    aspect_ratios: Sequence[str],
    mode: str,
    count: int = 1,
    seed: int | None = None,
) -> Plan:
    chosen_styles, chosen_ratios = normalise_axes(spec, styles, aspect_ratios)
    variants = plan_variants(styles=chosen_styles, aspect_ratios=chosen_ratios, mode=mode, count=count, seed=seed)
    return Plan(
        styles=chosen_styles,
        aspect_ratios=chosen_ratios,
        mode=mode,
        variants=variants,
        credits_per_video=spec.credits_per_video,
    )
