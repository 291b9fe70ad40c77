"""Render a small, real H.264 MP4 that stands in for a generated video.

The clip shows the prompt's words appearing one after another over a drifting
gradient (or a slow zoom/pan over the input image) with a progress bar, so a
human looking at the app can tell which request produced which file.
Frames are encoded one at a time so memory stays flat whatever the duration.
"""

from __future__ import annotations

import base64
import binascii
import colorsys
import hashlib
import io
import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

FPS = 24
DEFAULT_DURATION = 5.0
MAX_DURATION = 10.0
MIN_DURATION = 1.0
# Keeps a pasted multi-megapixel image from dominating render time and memory.
MAX_SOURCE_SIDE = 1024

_SIZES = {"16:9": (480, 270), "9:16": (270, 480), "1:1": (360, 360)}
_FAULT_MARKER = re.compile(r"#fault:[A-Za-z0-9_]+")
_DATA_URI = re.compile(r"^data:(image/(?:png|jpe?g|webp));base64,(.*)$", re.IGNORECASE | re.DOTALL)


class RenderCancelled(Exception):
    """Raised when the progress callback asks to stop."""


@dataclass(frozen=True)
class RenderSpec:
    prompt: str
    width: int
    height: int
    duration: float
    seed: int
    image: Optional[bytes] = None

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration * FPS))


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def parse_size(aspect_ratio: Any) -> tuple[int, int]:
    if isinstance(aspect_ratio, str):
        ratio = aspect_ratio.strip()
        if ratio in _SIZES:
            return _SIZES[ratio]
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)", ratio)
        if match:
            a, b = float(match.group(1)), float(match.group(2))
            if a > 0 and b > 0:
                # Long side stays at 480 so odd ratios cost the same as the named ones.
                if a >= b:
                    return 480, _even(480 * b / a)
                return _even(480 * a / b), 480
    return _SIZES["16:9"]


def parse_duration(value: Any) -> float:
    seconds: Optional[float] = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*s?\s*", value)
        if match:
            seconds = float(match.group(1))
    if seconds is None or not math.isfinite(seconds):
        return DEFAULT_DURATION
    return min(MAX_DURATION, max(MIN_DURATION, seconds))


def decode_data_uri(value: Any) -> Optional[bytes]:
    """Bytes of a base64 ``data:image/...`` URI, or None for anything else (URLs are not fetched)."""
    if not isinstance(value, str):
        return None
    match = _DATA_URI.match(value)
    if not match:
        return None
    try:
        return base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        return None


def image_size(data: bytes) -> Optional[tuple[int, int]]:
    """Width and height of an image, or None when it is not one we can read."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return picture.size
    except (OSError, ValueError):
        return None


def display_text(prompt: str) -> str:
    return " ".join(_FAULT_MARKER.sub(" ", prompt).split())


def spec_from_arguments(arguments: dict[str, Any], seed: int, image: Optional[bytes] = None) -> RenderSpec:
    width, height = parse_size(arguments.get("aspect_ratio"))
    prompt = arguments.get("prompt")
    return RenderSpec(
        prompt=display_text(prompt) if isinstance(prompt, str) else "",
        width=width,
        height=height,
        duration=parse_duration(arguments.get("duration")),
        seed=seed,
        image=image if image is not None else decode_data_uri(arguments.get("image_url")),
    )


# --- backgrounds -----------------------------------------------------------


def _palette(rng: random.Random, count: int) -> list[tuple[int, int, int]]:
    base_hue = rng.random()
    colours = []
    for _ in range(count):
        hue = (base_hue + rng.uniform(-0.18, 0.18)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.45, 0.9), rng.uniform(0.35, 0.85))
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def _gradient(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    # A 4x4 grid of colours upscaled bicubically is a smooth gradient at C speed.
    grid = Image.new("RGB", (4, 4))
    grid.putdata(_palette(rng, 16))
    return grid.resize(size, Image.Resampling.BICUBIC)


class _GradientBackground:
    """Two oversized gradients; each frame crops a drifting window and cross-fades them."""

    def __init__(self, spec: RenderSpec) -> None:
        rng = random.Random(spec.seed)
        self.size = (spec.width, spec.height)
        big = (spec.width * 3 // 2, spec.height * 3 // 2)
        self.first = _gradient(rng, big)
        self.second = _gradient(rng, big)
        self.phase = rng.random() * math.tau

    def frame(self, t: float) -> Image.Image:
        w, h = self.size
        span_x, span_y = self.first.width - w, self.first.height - h
        x = int(span_x * (0.5 + 0.5 * math.sin(self.phase + t * 0.9)))
        y = int(span_y * (0.5 + 0.5 * math.cos(self.phase + t * 0.7)))
        box = (x, y, x + w, y + h)
        alpha = 0.5 + 0.5 * math.sin(self.phase + t * 1.3)
        return Image.blend(self.first.crop(box), self.second.crop(box), alpha)


class _ImageBackground:
    """Ken Burns style slow zoom and pan over the input image."""

    def __init__(self, spec: RenderSpec, source: Image.Image) -> None:
        self.size = (spec.width, spec.height)
        self.duration = spec.duration
        self.image = ImageOps.fit(source, (spec.width * 5 // 4, spec.height * 5 // 4))
        rng = random.Random(spec.seed)
        self.direction = (rng.choice((-1, 1)), rng.choice((-1, 1)))

    def frame(self, t: float) -> Image.Image:
        progress = min(1.0, t / self.duration)
        zoom = 1.0 - 0.2 * progress  # fraction of the oversized image kept in view
        box_w, box_h = self.image.width * zoom, self.image.height * zoom
        free_x, free_y = self.image.width - box_w, self.image.height - box_h
        dx = 0.5 + 0.5 * self.direction[0] * progress
        dy = 0.5 + 0.5 * self.direction[1] * progress
        left, top = free_x * dx, free_y * dy
        box = (left, top, left + box_w, top + box_h)
        return self.image.resize(self.size, Image.Resampling.BILINEAR, box=box)


def _open_source_image(data: bytes) -> Optional[Image.Image]:
    try:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (MAX_SOURCE_SIDE, MAX_SOURCE_SIDE))
        image = ImageOps.exif_transpose(image).convert("RGB")
    except Exception:  # A broken image falls back to the gradient rather than failing the job.
        return None
    image.thumbnail((MAX_SOURCE_SIDE, MAX_SOURCE_SIDE))
    return image


# --- text overlay ----------------------------------------------------------


def _wrap(words: list[str], font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


class _Overlay:
    def __init__(self, spec: RenderSpec) -> None:
        self.spec = spec
        self.words = spec.prompt.split()[:60] or ["(no", "prompt)"]
        self.font = ImageFont.load_default(size=max(12, spec.height // 11))
        self.line_height = int(self.font.size * 1.25)
        self.max_lines = max(1, (spec.height - 40) // self.line_height)
        self._cache: dict[int, list[str]] = {}

    def _lines(self, shown: int) -> list[str]:
        if shown not in self._cache:
            lines = _wrap(self.words[:shown], self.font, self.spec.width * 0.86)
            # Long prompts scroll: the newest words must stay visible.
            self._cache[shown] = lines[-self.max_lines :]
        return self._cache[shown]

    def draw(self, image: Image.Image, index: int, total: int) -> None:
        draw = ImageDraw.Draw(image)
        # Words arrive during the first 80% of the clip; the rest holds the full prompt.
        fraction = min(1.0, (index + 1) / max(1.0, total * 0.8))
        shown = max(1, math.ceil(fraction * len(self.words)))
        lines = self._lines(shown)
        top = (self.spec.height - len(lines) * self.line_height) // 2
        for row, line in enumerate(lines):
            width = self.font.getlength(line)
            x = (self.spec.width - width) / 2
            y = top + row * self.line_height
            draw.text((x, y), line, font=self.font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        bar_y = self.spec.height - 10
        draw.rectangle((8, bar_y, self.spec.width - 8, bar_y + 4), fill=(0, 0, 0))
        done = 8 + int((self.spec.width - 16) * (index + 1) / total)
        draw.rectangle((8, bar_y, done, bar_y + 4), fill=(255, 255, 255))


# --- encoding --------------------------------------------------------------

ProgressCallback = Callable[[int, int], bool]


def render_video(spec: RenderSpec, path: Path, on_frame: Optional[ProgressCallback] = None) -> int:
    """Write the clip to ``path`` and return its size in bytes.

    ``on_frame(done, total)`` runs after each frame; returning False aborts with
    RenderCancelled and removes the partial file.
    """
    source = _open_source_image(spec.image) if spec.image else None
    background = _ImageBackground(spec, source) if source else _GradientBackground(spec)
    overlay = _Overlay(spec)
    total = spec.frame_count
    tmp_path = path.with_name(path.name + ".part")
    try:
        with av.open(str(tmp_path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "26"}
            for index in range(total):
                image = background.frame(index / FPS)
                overlay.draw(image, index, total)
                frame = av.VideoFrame.from_image(image)
                for packet in stream.encode(frame):
                    container.mux(packet)
                if on_frame is not None and on_frame(index + 1, total) is False:
                    raise RenderCancelled()
            for packet in stream.encode(None):
                container.mux(packet)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path.stat().st_size


def seed_for(arguments: dict[str, Any]) -> int:
    """The request's seed: the given one, else stable per prompt so reruns look alike."""
    seed = arguments.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32:
        return seed
    prompt = arguments.get("prompt")
    text = prompt if isinstance(prompt, str) else repr(sorted(arguments))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
