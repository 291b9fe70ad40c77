"""Reading pixel art: what a user may see of it, and the images it offers."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from PIL import Image

from generation.models import TaskStatus
from history.models import HistoryItem
from pixelart.models import LastFrame, PixelArt, PixelArtStatus
from pixelart.render import sheet_layout

# What the Generate form accepts as an input image (see generation.forms).
INPUT_MIN_SIDE = 256
INPUT_MAX_SIDE = 4096


def video_key(source: HistoryItem) -> str:
    """Names the exact video file a card shows (a re-download with other bytes is another)."""
    return source.sha256 or source.video.name


def pixel_arts_for(user) -> QuerySet[PixelArt]:
    return PixelArt.objects.filter(user=user).select_related("source")


def pixel_arts_of(item: HistoryItem) -> QuerySet[PixelArt]:
    return PixelArt.objects.filter(source=item).order_by("-created_at")


def frame_image(art: PixelArt, index: int) -> Image.Image:
    """Frame `index` of a finished pixel art, cut from its sheet (palette and
    transparency kept)."""
    if art.status != PixelArtStatus.COMPLETED or not (0 <= index < (art.frame_count or 0)):
        raise LookupError(index)
    columns, _ = sheet_layout(art.frame_count, art.width, art.height)
    with art.sprite_sheet.open("rb") as stored:
        sheet = Image.open(stored)
        sheet.load()
    x, y = (index % columns) * art.width, (index // columns) * art.height
    frame = sheet.crop((x, y, x + art.width, y + art.height))
    if "transparency" in sheet.info:
        frame.info["transparency"] = sheet.info["transparency"]
    return frame


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    extra = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.save(out, "PNG", **extra)
    return out.getvalue()


@dataclass(frozen=True)
class InputFrame:
    """An image ready to attach to the Generate form."""

    reference: str
    label: str
    png: bytes


def input_frame(user, reference: str) -> InputFrame | None:
    """Resolve "pixelart:<id>:<n>" (frame n of a pixel art), "video:<id>" (the last
    frame of a video, once a worker has taken it: see `services.request_last_frame`) or "input:<id>" (the input image a card's video was made from,
    for "Regenerate from this") for `user`; None for anything else, including other
    users'.
    A pixel-art frame is enlarged by a whole factor with hard edges (its pixels stay
    square) until it is as large as image-to-video models accept."""
    kind, _, rest = reference.partition(":")
    try:
        if kind == "pixelart":
            art_id, _, number = rest.partition(":")
            art = pixel_arts_for(user).get(pk=art_id)
            image = _flatten(frame_image(art, int(number)))
            factor = max(1, math.ceil(INPUT_MIN_SIDE / min(image.size)))
            factor = min(factor, max(1, INPUT_MAX_SIDE // max(image.size)))
            image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
            return InputFrame(reference, f"frame {int(number) + 1} of your pixel art", png_bytes(image))
        if kind == "video":
            item = HistoryItem.objects.select_related("task").get(pk=rest, user=user, task__status=TaskStatus.COMPLETED)
            taken = LastFrame.objects.filter(source=item, video_key=video_key(item), status=PixelArtStatus.COMPLETED).first()
            if taken is None or not taken.image:
                return None
            with taken.image.open("rb") as stored:
                return InputFrame(reference, "the last frame of your video", stored.read())
        if kind == "input":
            item = HistoryItem.objects.select_related("task__job").get(pk=rest, user=user)
            if not item.task.job.input_image:
                return None
            with item.task.job.input_image.open("rb") as stored:
                image = Image.open(stored)
                image.load()
            return InputFrame(reference, "the input image of the video you regenerate", png_bytes(image))
    except (PixelArt.DoesNotExist, HistoryItem.DoesNotExist, ValidationError, LookupError, ValueError, OSError):
        return None
    return None


def _flatten(frame: Image.Image) -> Image.Image:
    rgba = frame.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


# Download name -> model field.
OUTPUTS = {
    "sprite-sheet.png": "sprite_sheet",
    "sprite-sheet.json": "sheet_json",
    "animation.gif": "gif",
    "frames.zip": "frames_zip",
}


def output_file(art: PixelArt, name: str):
    """(stored file, download name) of one of a finished pixel art's files, or None
    (see `PixelArt.download_name`). The caller has checked the owner and
    hands the file to `serve_private_file`, as for videos."""
    if name not in OUTPUTS or art.status != PixelArtStatus.COMPLETED:
        return None
    stored = getattr(art, OUTPUTS[name])
    if not stored:
        return None
    return stored, art.download_name(name)
