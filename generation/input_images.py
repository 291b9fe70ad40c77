"""An input image checked against its model's limits before anything is spent.

fal's schemas say only that a field is a file; limits come from the endpoints' own
descriptions where fal states them: Kling v3 image-to-video's first frame is .jpg/.png,
at most 50 MB, at least 300 px a side, between 1:2.5 and 2.5:1 (`KLING_V3_IMAGE_LIMITS`,
for when a Kling v3 model is offered); Seedance 2.0 takes up to 30 MB; Veo 3.1's
image-to-video wants 720p or more (`VEO_IMAGE_LIMITS`: 720 px on the short side; other
shapes than 16:9 and 9:16 it crops, so the shape range stays ours). fal states none
for the Kling 2.x endpoints we offer, so we do not guess theirs. Where a model states
none, the defaults below are ours: what the product has always asked for (256 to 4096
px, PNG/JPEG/WebP) and a shape between 1:2.5 and 2.5:1. Our own size cap,
INPUT_IMAGE_MAX_BYTES, applies on top of every model's."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class ImageLimits:
    min_side: int = 256  # pixels, the shorter side
    max_side: int = 4096  # pixels, the longer side
    min_aspect: float = 1 / 2.5  # width / height
    max_aspect: float = 2.5
    max_bytes: int | None = None  # None: only INPUT_IMAGE_MAX_BYTES
    formats: tuple[str, ...] = ("PNG", "JPEG", "WEBP")


DEFAULT_IMAGE_LIMITS = ImageLimits()
KLING_V3_IMAGE_LIMITS = ImageLimits(min_side=300, max_bytes=50 * 1024 * 1024, formats=("PNG", "JPEG"))
VEO_IMAGE_LIMITS = ImageLimits(min_side=720)


_FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}


def _ratio(value: float) -> str:
    return f"{value:g}:1" if value >= 1 else f"1:{1 / value:g}"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def image_problems(*, limits: ImageLimits, image) -> list[str]:
    """What is wrong with this image for a model with these limits ([] when nothing).
    `image` is any Django file; its position is restored."""
    problems: list[str] = []
    max_bytes = min(limits.max_bytes or settings.INPUT_IMAGE_MAX_BYTES, settings.INPUT_IMAGE_MAX_BYTES)
    if image.size > max_bytes:
        problems.append(_("The image is larger than %(size)s.") % {"size": _megabytes(max_bytes)})
    try:
        image.seek(0)
        with Image.open(image) as picture:
            kind, (width, height) = picture.format, picture.size
    except (UnidentifiedImageError, OSError, ValueError):
        return problems + [_("That file is not an image we can read.")]
    finally:
        image.seek(0)
    if kind not in limits.formats:
        names = [_FORMAT_NAMES.get(name, name) for name in limits.formats]
        if len(names) == 1:
            listed = names[0]
        else:
            listed = _("%(first)s or %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}
        problems.append(_("Use a %(formats)s image for this model.") % {"formats": listed})
    if min(width, height) < limits.min_side:
        problems.append(
            _("The image is %(width)s×%(height)s px; this model needs at least %(min)s px on each side.")
            % {"width": width, "height": height, "min": limits.min_side}
        )
    if max(width, height) > limits.max_side:
        problems.append(
            _("The image is %(width)s×%(height)s px; this model takes at most %(max)s px on its long side.")
            % {"width": width, "height": height, "max": limits.max_side}
        )
    aspect = width / height
    if not limits.min_aspect <= aspect <= limits.max_aspect:
        problems.append(
            _("The image's shape (%(shape)s) is outside what this model takes (%(min)s to %(max)s).")
            % {"shape": _ratio(aspect), "min": _ratio(limits.min_aspect), "max": _ratio(limits.max_aspect)}
        )
    return problems
