"""Named fixed palettes. The colour values are the published ones for each palette."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

Colour = tuple[int, int, int]


def _hex(*values: str) -> tuple[Colour, ...]:
    return tuple((int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)) for v in values)


@dataclass(frozen=True)
class Palette:
    key: str
    label: str  # lazy: translated when shown
    colours: tuple[Colour, ...]


ADAPTIVE = "adaptive"

PALETTES: dict[str, Palette] = {
    p.key: p
    for p in (
        Palette(
            "pico-8",
            _("PICO-8 (16 colours)"),
            _hex(
                "000000", "1D2B53", "7E2553", "008751", "AB5236", "5F574F", "C2C3C7", "FFF1E8",
                "FF004D", "FFA300", "FFEC27", "00E436", "29ADFF", "83769C", "FF77A8", "FFCCAA",
            ),
        ),
        Palette("game-boy", _("Game Boy (4 greens)"), _hex("0F380F", "306230", "8BAC0F", "9BBC0F")),
        Palette(
            "cga",
            _("CGA (16 colours)"),
            _hex(
                "000000", "0000AA", "00AA00", "00AAAA", "AA0000", "AA00AA", "AA5500", "AAAAAA",
                "555555", "5555FF", "55FF55", "55FFFF", "FF5555", "FF55FF", "FFFF55", "FFFFFF",
            ),
        ),
        Palette("black-and-white", _("Black and white (2 colours)"), _hex("000000", "FFFFFF")),
    )
}

PALETTE_CHOICES = [(ADAPTIVE, _("Adaptive (from the video)"))] + [(p.key, p.label) for p in PALETTES.values()]
