"""What fal charges for one video, as each model's page publishes it.

fal bills video models by the clip, not by our credits: per second of video (often by
resolution and by whether sound is generated), per 5-second block, or a first block
plus each extra second. A rule turns what was actually sent (seconds, resolution,
sound) into dollars; `text` keeps fal's own wording beside it. Used to record what a
video cost us, never to bill users."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ANY = "*"


@dataclass(frozen=True)
class Charge:
    usd: Decimal
    basis: str  # how it was reckoned, for staff: "6 s × $0.045/s at 768P"


@dataclass(frozen=True)
class PriceRule:
    """Base of the rules. `published` is False when fal's page for this exact endpoint
    was not found and the figure is an estimate (the text says from what)."""

    text: str
    source: str = ""
    published: bool = True

    def charge(self, *, seconds: int, resolution: str = "", audio: bool = False) -> Charge:
        raise NotImplementedError


def _lookup(table: Mapping, resolution: str, audio: bool):
    """A rate keyed by (resolution, audio); ANY matches every value of that part."""
    for key in ((resolution, audio), (resolution, ANY), (ANY, audio), (ANY, ANY)):
        if key in table:
            return table[key]
    raise KeyError(f"no price for resolution={resolution!r} audio={audio}")


def _sound(audio: bool) -> str:
    return "with sound" if audio else "silent"


@dataclass(frozen=True)
class PerSecond(PriceRule):
    """seconds × rate, the rate chosen by resolution and sound."""

    rates: Mapping[tuple[str, object], Decimal] = field(default_factory=dict)

    def charge(self, *, seconds: int, resolution: str = "", audio: bool = False) -> Charge:
        rate = _lookup(self.rates, resolution, audio)
        where = " ".join(part for part in (f"at {resolution}" if resolution else "", _sound(audio)) if part)
        return Charge(rate * seconds, f"{seconds} s × ${rate}/s {where}".strip())


@dataclass(frozen=True)
class FirstBlockPlusSeconds(PriceRule):
    """A price for the first `block_seconds`, then a price for each second beyond."""

    block_seconds: int = 5
    block_usd: Decimal = Decimal(0)
    extra_usd_per_second: Decimal = Decimal(0)

    def charge(self, *, seconds: int, resolution: str = "", audio: bool = False) -> Charge:
        extra = max(seconds - self.block_seconds, 0)
        usd = self.block_usd + extra * self.extra_usd_per_second
        return Charge(usd, f"first {self.block_seconds} s ${self.block_usd} + {extra} s × ${self.extra_usd_per_second}")


@dataclass(frozen=True)
class PerBlock(PriceRule):
    """A price per started block of `block_seconds`, times a factor by resolution."""

    block_seconds: int = 5
    block_usd: Decimal = Decimal(0)
    resolution_factor: Mapping[str, int] = field(default_factory=dict)

    def charge(self, *, seconds: int, resolution: str = "", audio: bool = False) -> Charge:
        blocks = math.ceil(seconds / self.block_seconds)
        factor = self.resolution_factor.get(resolution, 1)
        usd = self.block_usd * blocks * factor
        return Charge(usd, f"{blocks} × {self.block_seconds} s block × ${self.block_usd}" + (f" × {factor} at {resolution}" if factor != 1 else ""))


@dataclass(frozen=True)
class PerClip(PriceRule):
    """A fixed price per clip, by its length."""

    by_seconds: Mapping[int, Decimal] = field(default_factory=dict)

    def charge(self, *, seconds: int, resolution: str = "", audio: bool = False) -> Charge:
        return Charge(self.by_seconds[seconds], f"{seconds} s clip")
