"""Turning a video into pixel-art frames: the pixels only, no database, no storage.

Frames are decoded with PyAV one at a time; only the frames we keep, already scaled
down to the target size, stay in memory. Scaling and quantising are Pillow's. One
palette serves every frame of a result, so the sheet, the GIF and the numbered PNGs
share it index for index, and the colour count never exceeds the one asked for.

Outputs are what sprite tools read: a sheet PNG (palette mode, with a tRNS entry when
transparent) and its description in the JSON layout Aseprite writes and TexturePacker,
Phaser, Godot importers and others read ("hash": frames keyed by name, or "array"), an
animated GIF, and a ZIP of numbered PNGs whose names match the JSON's frame names.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO

import av
from django.utils.translation import gettext_noop
from PIL import Image, ImageDraw

from pixelart.palettes import ADAPTIVE, PALETTES, Colour

DEFAULT_FPS = 8
MAX_FPS = 50  # GIF counts time in hundredths and players slow anything under 2 of them
MAX_FRAMES = 256
MAX_SIDE = 512  # a kept-aspect tall video: the longer side may reach this
SIZE_PRESETS = (16, 24, 32, 48, 64, 96, 128, 192, 256)
# Palette computation looks at the kept frames; beyond this many pixels a scaled-down
# mosaic of them gives the same palette for less work.
PALETTE_SAMPLE_PIXELS = 512 * 512
# The intermediate scale (by FFmpeg's area filter) keeps this many source pixels per
# target pixel, so Pillow's final box filter has detail to average but little to read.
OVERSAMPLE = 4


class RenderError(Exception):
    """The source cannot be turned into frames; the message is safe to show. It is
    kept in English (it is stored with the result) and translated when shown."""


@dataclass(frozen=True)
class Options:
    """Validated settings (see forms.PixelArtForm for the rules)."""

    size: int | None = 64  # a square of this side, or
    width: int | None = None  # this width, keeping the video's aspect ratio
    fit: str = "crop"  # square only: "crop" to the centre or "pad"
    start: float = 0.0
    end: float | None = None  # None: the end of the video
    fps: int | None = None
    frames: int | None = None
    palette: str = ADAPTIVE
    colors: int = 16
    dither: str = "none"  # or "floyd-steinberg"
    transparent: bool = False
    layout: str = "hash"  # or "array"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FramePlan:
    times: tuple[float, ...]
    frame_seconds: float

    @property
    def count(self) -> int:
        return len(self.times)

    @property
    def fps(self) -> float:
        return 1 / self.frame_seconds

    def durations_ms(self) -> list[int]:
        """Each frame's duration in whole hundredths (what GIF stores), rounded on the
        running total so a long animation keeps time: 24 fps is 40, 40, 50, 40, ..."""
        hundredths = [math.floor(100 * i * self.frame_seconds + 0.5) for i in range(self.count + 1)]
        return [10 * (b - a) for a, b in zip(hundredths, hundredths[1:])]


def plan_frames(*, start: float, end: float | None, fps: int | None, frames: int | None, duration: float) -> FramePlan:
    """Which moments to take. fps alone: one frame every 1/fps seconds of the range;
    frames alone: that many, spread evenly over the range (played back in real time);
    both: that many, 1/fps apart from the start, as far as the range allows."""
    stop = min(end, duration) if end is not None else duration
    span = max(stop - start, 0.0)
    if frames and not fps:
        step = span / frames if span > 0 else 1 / DEFAULT_FPS
        count = frames
    else:
        step = 1 / (fps or DEFAULT_FPS)
        count = max(1, math.ceil(span / step - 1e-6))
        if frames:
            count = min(count, frames)
    return FramePlan(times=tuple(start + i * step for i in range(count)), frame_seconds=step)


@dataclass
class Result:
    frame_count: int
    width: int
    height: int
    colours: list[Colour]
    transparent_index: int | None
    durations_ms: list[int]
    sheet_png: bytes = b""
    sheet_json: bytes = b""
    gif: bytes = b""
    zip: bytes = b""
    frame_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Geometry:
    """Where the source goes in a frame: the source box, the size it scales to, and its
    offset in the frame (pad)."""

    frame_size: tuple[int, int]
    box: tuple[float, float, float, float]
    content_size: tuple[int, int]
    offset: tuple[int, int]


def geometry(options: Options, source_size: tuple[int, int]) -> Geometry:
    sw, sh = source_size
    if options.width:
        w = options.width
        h = max(1, min(MAX_SIDE, round(w * sh / sw)))
        return Geometry((w, h), (0, 0, sw, sh), (w, h), (0, 0))
    side = options.size or 64
    if options.fit == "pad":
        scale = min(side / sw, side / sh)
        cw, ch = max(1, round(sw * scale)), max(1, round(sh * scale))
        return Geometry((side, side), (0, 0, sw, sh), (cw, ch), ((side - cw) // 2, (side - ch) // 2))
    scale = max(side / sw, side / sh)
    bw, bh = side / scale, side / scale
    left, top = (sw - bw) / 2, (sh - bh) / 2
    return Geometry((side, side), (left, top, left + bw, top + bh), (side, side), (0, 0))


def _scaled(frame: av.VideoFrame, geo: Geometry) -> Image.Image:
    sw, sh = frame.width, frame.height
    left, top, right, bottom = geo.box
    factor = min(1.0, OVERSAMPLE * max(geo.content_size[0] / (right - left), geo.content_size[1] / (bottom - top)))
    if factor < 1.0:
        iw, ih = max(1, round(sw * factor)), max(1, round(sh * factor))
        image = frame.to_image(width=iw, height=ih, interpolation="AREA")
        fx, fy = iw / sw, ih / sh
        box = (left * fx, top * fy, right * fx, bottom * fy)
    else:
        image, box = frame.to_image(), geo.box
    return image.resize(geo.content_size, Image.Resampling.BOX, box=box)


@contextmanager
def _video_from(source: str | IO[bytes], *, seek_to: float | None) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """The open video and its first video stream, positioned at the keyframe before
    `seek_to` seconds (from the start when None); an unreadable file is a RenderError."""
    try:
        container = av.open(source, mode="r")
    except av.FFmpegError as exc:
        raise RenderError(gettext_noop("The source video could not be read; the file may be damaged.")) from exc
    with container:
        if not container.streams.video:
            raise RenderError(gettext_noop("The source video could not be read: the file holds no video stream (it may be damaged)."))
        stream = container.streams.video[0]
        if seek_to is not None and stream.time_base:
            container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
        yield container, stream


def _decoded(container: av.container.InputContainer, stream: av.VideoStream) -> Iterator[av.VideoFrame]:
    """The stream's frames as they decode. A damaged tail ends them quietly once a
    frame has decoded (what could be read stands in for the rest); a video of which
    no frame decodes is a RenderError."""
    decoded = False
    try:
        for frame in container.decode(stream):
            decoded = True
            yield frame
    except av.FFmpegError as exc:
        if not decoded:
            raise RenderError(gettext_noop("The source video could not be read; the file may be damaged.")) from exc
    if not decoded:
        raise RenderError(gettext_noop("The source video could not be read: no frame in it decodes (the file may be damaged)."))


def decode_frames(source: str | IO[bytes], times: tuple[float, ...]) -> Iterator[tuple[av.VideoFrame, tuple[int, int]]]:
    """The frame showing at each of `times` (ascending), decoded in one pass: each
    decoded frame is looked at once and dropped unless it is the one we want. A frame
    wanted twice (times closer than the video's frame rate) is given twice."""
    with _video_from(source, seek_to=times[0] if times and times[0] > 1.0 else None) as (container, stream):
        pending = iter(times)
        target = next(pending, None)
        previous = None
        for frame in _decoded(container, stream):
            when = frame.time if frame.time is not None else 0.0
            while target is not None and when > target + 1e-6:
                chosen = previous if previous is not None else frame
                yield chosen, (chosen.width, chosen.height)
                target = next(pending, None)
            if target is None:
                return
            previous = frame
        # The end, or a damaged tail: the last frame read stands in for the rest.
        while target is not None:
            yield previous, (previous.width, previous.height)
            target = next(pending, None)


def last_frame(source: str | IO[bytes], *, duration: float) -> Image.Image:
    """The video's last frame, as an RGB image of its full size. Seeks to about two
    seconds before the end (the nearest keyframe before that) and decodes from there,
    so a long video costs no more than a short one."""
    with _video_from(source, seek_to=duration - 2 if duration > 2 else None) as (container, stream):
        last = None
        for last in _decoded(container, stream):
            pass
        return last.to_image().convert("RGB")


def adaptive_palette(images: list[Image.Image], colors: int) -> list[Colour]:
    """At most `colors` colours that suit all the frames together (median cut)."""
    columns = max(1, math.ceil(math.sqrt(len(images))))
    cw = max(im.width for im in images)
    ch = max(im.height for im in images)
    mosaic = Image.new("RGB", (columns * cw, math.ceil(len(images) / columns) * ch))
    for n, im in enumerate(images):
        mosaic.paste(im, ((n % columns) * cw, (n // columns) * ch))
    if mosaic.width * mosaic.height > PALETTE_SAMPLE_PIXELS:
        mosaic.thumbnail((1024, 1024), Image.Resampling.BOX)  # about PALETTE_SAMPLE_PIXELS or fewer
    quantised = mosaic.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    flat = quantised.getpalette() or []
    used = sorted(index for _, index in quantised.getcolors(256) or [])
    colours: list[Colour] = []
    for index in used:
        colour = tuple(flat[3 * index : 3 * index + 3])
        if colour not in colours:
            colours.append(colour)  # type: ignore[arg-type]
    return colours[:colors]


def _palette_image(colours: list[Colour]) -> Image.Image:
    flat = [c for colour in colours for c in colour]
    image = Image.new("P", (1, 1))
    image.putpalette(flat + list(colours[0]) * (256 - len(colours)))
    return image


def quantise(image: Image.Image, colours: list[Colour], *, dither: str) -> Image.Image:
    """`image` in exactly `colours`: palette mode, every index below len(colours)."""
    mode = Image.Dither.FLOYDSTEINBERG if dither == "floyd-steinberg" else Image.Dither.NONE
    result = image.quantize(palette=_palette_image(colours), dither=mode)
    n = len(colours)
    # The padding entries repeat the first colour; should one be picked, it is that colour.
    return result.point(list(range(n)) + [0] * (256 - n))


def clear_background(frame: Image.Image, transparent_index: int) -> None:
    """Make the background transparent: the colour most common along the edge, where it
    touches the edge (a flood fill from there), so the same colour inside a figure stays."""
    w, h = frame.size
    pixels = frame.load()
    edge = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)]
    edge += [(0, y) for y in range(1, h - 1)] + [(w - 1, y) for y in range(1, h - 1)]
    key = Counter(pixels[xy] for xy in edge).most_common(1)[0][0]
    for xy in edge:
        if pixels[xy] == key:
            ImageDraw.floodfill(frame, xy, transparent_index, thresh=0)


def frame_name(n: int) -> str:
    return f"frame_{n:03d}.png"


def render(
    source: str | IO[bytes],
    options: Options,
    *,
    duration: float,
    on_progress: Callable[[int], None] | None = None,
    sheet_name: str = "sprite-sheet.png",
) -> Result:
    """The whole conversion. `duration` is the source's length in seconds (as measured
    when it was stored); `on_progress` hears a percentage now and then; `sheet_name`
    is the file name the sheet is saved under beside its JSON, which names it (sprite
    tools and engine importers open the image the JSON names)."""
    report = on_progress or (lambda percent: None)
    plan = plan_frames(start=options.start, end=options.end, fps=options.fps, frames=options.frames, duration=duration)
    geo: Geometry | None = None
    contents: list[Image.Image] = []
    for n, (frame, size) in enumerate(decode_frames(source, plan.times)):
        if geo is None:
            geo = geometry(options, size)
        contents.append(_scaled(frame, geo))
        if n % 4 == 3:
            report(5 + 75 * (n + 1) // plan.count)
    assert geo is not None  # decode_frames yields one per time or raises

    colours = list(PALETTES[options.palette].colours) if options.palette in PALETTES else adaptive_palette(contents, options.colors)
    transparent_index = len(colours) if options.transparent else None
    if transparent_index is not None:
        background = transparent_index
    else:
        background = min(range(len(colours)), key=lambda i: sum(colours[i]))  # pad with the darkest
    full_palette = [c for colour in colours for c in colour] + ([255, 0, 255] if transparent_index is not None else [])

    frames: list[Image.Image] = []
    for content in contents:
        indexed = quantise(content, colours, dither=options.dither)
        if transparent_index is not None:
            clear_background(indexed, transparent_index)
        frame = Image.new("P", geo.frame_size, background)
        frame.paste(indexed, geo.offset)
        frame.putpalette(full_palette)
        frames.append(frame)
    report(85)

    result = Result(
        frame_count=len(frames),
        width=geo.frame_size[0],
        height=geo.frame_size[1],
        colours=colours,
        transparent_index=transparent_index,
        durations_ms=plan.durations_ms(),
        frame_names=[frame_name(n) for n in range(len(frames))],
    )
    result.sheet_png, result.sheet_json = _sheet(frames, result, options, background, full_palette, sheet_name)
    result.gif = _gif(frames, result)
    result.zip = _zip(frames, result)
    report(100)
    return result


def _png(image: Image.Image, result: Result) -> bytes:
    out = io.BytesIO()
    extra = {"transparency": result.transparent_index} if result.transparent_index is not None else {}
    image.save(out, "PNG", optimize=True, **extra)
    return out.getvalue()


def sheet_layout(count: int, width: int, height: int) -> tuple[int, int]:
    """Columns and rows of the sheet: near square, filled row by row."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, math.ceil(count / columns)


def _sheet(frames, result: Result, options: Options, background: int, full_palette: list[int], sheet_name: str) -> tuple[bytes, bytes]:
    w, h = result.width, result.height
    columns, rows = sheet_layout(len(frames), w, h)
    sheet = Image.new("P", (columns * w, rows * h), background)
    sheet.putpalette(full_palette)
    described = []
    for n, frame in enumerate(frames):
        x, y = (n % columns) * w, (n // columns) * h
        sheet.paste(frame, (x, y))
        described.append(
            {
                "filename": result.frame_names[n],
                "frame": {"x": x, "y": y, "w": w, "h": h},
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
                "sourceSize": {"w": w, "h": h},
                "duration": result.durations_ms[n],
            }
        )
    if options.layout == "array":
        frames_json: list | dict = described
    else:
        frames_json = {entry.pop("filename"): entry for entry in described}
    description = {
        "frames": frames_json,
        "meta": {
            "app": "VideoPlanet",
            "version": "1.0",
            "image": sheet_name,
            "format": "I8",
            "size": {"w": sheet.width, "h": sheet.height},
            "scale": "1",
            "frameTags": [{"name": "video", "from": 0, "to": len(frames) - 1, "direction": "forward"}],
            "palette": ["#%02x%02x%02x" % colour for colour in result.colours],
            "transparentIndex": result.transparent_index,
        },
    }
    return _png(sheet, result), json.dumps(description, indent=1).encode()


def _gif(frames: list[Image.Image], result: Result) -> bytes:
    out = io.BytesIO()
    extra = {"transparency": result.transparent_index, "disposal": 2} if result.transparent_index is not None else {}
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=result.durations_ms,
        loop=0,
        optimize=False,
        **extra,
    )
    return out.getvalue()


def _zip(frames: list[Image.Image], result: Result) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for name, frame in zip(result.frame_names, frames):
            archive.writestr(name, _png(frame, result))
    return out.getvalue()
