"""The conversion on its own, on a real H.264 video made by the sandbox's renderer:
frame counts and sizes, the colour count of every output, GIF timing, and a sheet
description that matches the sheet pixel for pixel."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from falsandbox.render import render_video, spec_from_arguments
from pixelart.palettes import PALETTES
from pixelart.render import Options, RenderError, plan_frames, render

DURATION = 3.0


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A 3-second 480×270 clip from the sandbox's renderer (24 fps, moving gradient and words)."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    render_video(spec_from_arguments({"prompt": "a knight walks across a castle wall", "aspect_ratio": "16:9", "duration": 3}, seed=7), path)
    return path


def opaque_colours(image: Image.Image) -> set[tuple[int, int, int]]:
    rgba = image.convert("RGBA")
    return {rgb[:3] for _, rgb in rgba.getcolors(1 << 16) if rgb[3] == 255}


def outputs(result) -> tuple[Image.Image, dict, list[Image.Image], list[Image.Image]]:
    sheet = Image.open(io.BytesIO(result.sheet_png))
    description = json.loads(result.sheet_json)
    gif = Image.open(io.BytesIO(result.gif))
    gif_frames = [frame.copy() for frame in ImageSequence.Iterator(gif)]
    with zipfile.ZipFile(io.BytesIO(result.zip)) as archive:
        names = archive.namelist()
        pngs = [Image.open(io.BytesIO(archive.read(name))) for name in names]
    assert names == result.frame_names == [f"frame_{n:03d}.png" for n in range(result.frame_count)]
    return sheet, description, gif_frames, pngs


@pytest.mark.parametrize(
    ("options", "count", "size"),
    [
        (Options(size=64, frames=12), 12, (64, 64)),
        (Options(size=32, fps=8), 24, (32, 32)),  # 3 s at 8 fps
        (Options(size=16, fps=8, frames=5), 5, (16, 16)),
        (Options(size=48, fps=10, start=1.0, end=2.0), 10, (48, 48)),
        (Options(width=96, frames=4), 4, (96, 54)),  # 16:9 kept
        (Options(size=64, fit="pad", frames=3), 3, (64, 64)),
    ],
)
def test_frame_count_and_size(video, options, count, size):
    result = render(str(video), options, duration=DURATION)
    sheet, description, gif_frames, pngs = outputs(result)
    assert (result.frame_count, (result.width, result.height)) == (count, size)
    assert [png.size for png in pngs] == [size] * count
    assert all(frame.size == size for frame in gif_frames)
    assert len(description["frames"]) == count


@pytest.mark.parametrize(
    ("palette", "colors", "dither"),
    [("adaptive", 2, "none"), ("adaptive", 16, "floyd-steinberg"), ("adaptive", 256, "none"),
     ("pico-8", 16, "floyd-steinberg"), ("game-boy", 4, "none"), ("black-and-white", 2, "floyd-steinberg")],
)
def test_every_output_keeps_to_the_palette(video, palette, colors, dither):
    result = render(str(video), Options(size=64, frames=6, palette=palette, colors=colors, dither=dither), duration=DURATION)
    sheet, _, gif_frames, pngs = outputs(result)
    allowed = set(PALETTES[palette].colours) if palette in PALETTES else set(result.colours)
    assert len(result.colours) <= colors and set(result.colours) <= allowed
    assert sheet.mode == "P" and len(sheet.getpalette()) // 3 == len(result.colours)
    used = opaque_colours(sheet)
    assert used <= allowed and len(used) <= colors
    for image in [*gif_frames, *pngs]:
        assert opaque_colours(image) <= allowed
    if palette == "adaptive" and colors >= 16:
        assert len(used) > 8  # a real gradient uses the room it is given


def test_gif_plays_at_the_chosen_rate(video):
    result = render(str(video), Options(size=32, fps=24, frames=48), duration=DURATION)
    gif = Image.open(io.BytesIO(result.gif))
    durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert gif.n_frames == 48 and gif.info.get("loop") == 0
    assert set(durations) <= {40, 50}  # GIF counts hundredths: 41.7 ms is 40 or 50
    assert abs(sum(durations) - 2000) <= 10
    assert durations == result.durations_ms


@pytest.mark.parametrize("layout", ["hash", "array"])
def test_the_json_describes_the_sheet(video, layout):
    result = render(str(video), Options(size=24, fps=10, frames=7, layout=layout, transparent=True), duration=DURATION)
    sheet, description, _, pngs = outputs(result)
    assert description["meta"]["size"] == {"w": sheet.width, "h": sheet.height}
    assert description["meta"]["image"] == "sprite-sheet.png"
    if layout == "hash":
        entries = list(description["frames"].items())
    else:
        entries = [(entry["filename"], entry) for entry in description["frames"]]
    assert [name for name, _ in entries] == result.frame_names
    sheet_rgba = sheet.convert("RGBA")
    for (name, entry), png in zip(entries, pngs):
        rect = entry["frame"]
        assert (rect["w"], rect["h"]) == (24, 24) and entry["sourceSize"] == {"w": 24, "h": 24}
        assert entry["duration"] == 100  # 10 fps
        cut = sheet_rgba.crop((rect["x"], rect["y"], rect["x"] + rect["w"], rect["y"] + rect["h"]))
        assert cut.tobytes() == png.convert("RGBA").tobytes(), name
    rects = {(e["frame"]["x"], e["frame"]["y"]) for _, e in entries}
    assert len(rects) == 7  # no two frames share a place


def test_transparent_background_and_padding(video):
    result = render(str(video), Options(size=64, fit="pad", frames=2, transparent=True, colors=8), duration=DURATION)
    sheet, _, gif_frames, pngs = outputs(result)
    frame = pngs[0].convert("RGBA")
    # 480×270 padded into 64×64: 64×36 of picture, 14 rows of padding above and below.
    assert frame.getpixel((0, 0))[3] == 0 and frame.getpixel((32, 2))[3] == 0 and frame.getpixel((32, 61))[3] == 0
    assert frame.getchannel("A").getextrema() == (0, 255)  # and some of it is picture
    assert len(opaque_colours(sheet)) <= 8
    assert gif_frames[0].convert("RGBA").getpixel((0, 0))[3] == 0


def test_frames_spread_evenly_or_at_a_rate():
    assert plan_frames(start=0, end=None, fps=None, frames=4, duration=2.0).times == (0.0, 0.5, 1.0, 1.5)
    assert plan_frames(start=1, end=2, fps=4, frames=None, duration=5.0).times == (1.0, 1.25, 1.5, 1.75)
    assert plan_frames(start=0, end=None, fps=10, frames=3, duration=5.0).times == (0.0, 0.1, 0.2)
    assert plan_frames(start=0, end=None, fps=None, frames=None, duration=1.0).count == 8


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 5000])
def test_a_file_that_is_not_a_video_is_a_clear_error(tmp_path, content):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(RenderError, match="^The source video could not be read.*damaged"):
        render(str(path), Options(size=16, frames=2), duration=DURATION)
