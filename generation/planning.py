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

from generation.catalog import ModelSpec
from generation.styles import NO_STYLE

MAX_VIDEOS_PER_JOB = 20
SEED_LIMIT = 2**31  # seeds are 0 .. 2**31 - 1 everywhere we pass them on


class JobMode(models.TextChoices):
    SINGLE = "single", "Every combination once"
    BATCH = "batch", "A number of videos"


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
        axes = plural(len(self.styles), "style")
        if self.aspect_ratios != ("",):
            axes += f" × {plural(len(self.aspect_ratios), 'aspect ratio')}"
        cost = plural(self.credits, "credit")
        if self.mode == JobMode.SINGLE:
            return f"{axes} = {plural(self.count, 'video')} · {cost}"
        if self.repeats:
            again = self.count - self.combinations
            spread = f"{plural(self.combinations, 'combination')}, {again} repeated with new seeds"
        else:
            spread = f"{self.count} of {plural(self.combinations, 'combination')}"
        return f"{plural(self.count, 'video')} over {axes} ({spread}) · {cost}"


def plural(number: int, noun: str) -> str:
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
