"""The renderer on its own: sizes, durations, image backgrounds, cancellation."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import av
import pytest
from PIL import Image

from falsandbox.faults import FaultPlanner, parse_rates, requested_names
from falsandbox.render import (
    RenderCancelled,
    display_text,
    parse_duration,
    parse_size,
    render_video,
    spec_from_arguments,
)


def _probe(path: Path) -> tuple[int, int, float, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None and stream.time_base is not None
        return (stream.width, stream.height, float(stream.duration * stream.time_base),
                stream.codec_context.name, stream.codec_context.pix_fmt or "")


@pytest.mark.parametrize(
    ("aspect_ratio", "duration", "expected"),
    [("9:16", "2s", (270, 480, 2.0)), ("1:1", 3, (360, 360, 3.0)), (None, None, (480, 270, 5.0))],
)
def test_render_sizes_and_durations(tmp_path: Path, aspect_ratio: str | None, duration: object,
                                    expected: tuple[int, int, float]) -> None:
    arguments = {"prompt": "size check", "aspect_ratio": aspect_ratio, "duration": duration}
    path = tmp_path / "clip.mp4"
    started = time.perf_counter()
    size = render_video(spec_from_arguments(arguments, seed=1), path)
    assert time.perf_counter() - started < 5  # generous: well under 2 s on an idle core
    assert size == path.stat().st_size > 0
    width, height, seconds, codec, pix_fmt = _probe(path)
    assert (width, height) == expected[:2]
    assert seconds == pytest.approx(expected[2], abs=0.1)
    assert (codec, pix_fmt) == ("h264", "yuv420p")


def test_duration_and_size_parsing() -> None:
    assert parse_duration("10") == 10 and parse_duration("5s") == 5 and parse_duration(8) == 8
    assert parse_duration("60") == 10 and parse_duration("soon") == 5 and parse_duration(None) == 5
    assert parse_size("16:9") == (480, 270) and parse_size("weird") == (480, 270)
    width, height = parse_size("4:3")
    assert width % 2 == 0 and height % 2 == 0


def test_image_background_from_data_uri(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (250, 10, 10)).save(buffer, "JPEG")
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    spec = spec_from_arguments({"prompt": "red", "image_url": uri, "duration": "1"}, seed=3)
    assert spec.image is not None
    path = tmp_path / "image.mp4"
    render_video(spec, path)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).to_image()
    red, green, blue = frame.getpixel((5, 5))
    assert red > 180 and green < 80 and blue < 80


def test_render_can_be_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "cancelled.mp4"
    with pytest.raises(RenderCancelled):
        render_video(spec_from_arguments({"prompt": "stop"}, seed=1), path, lambda done, total: done < 10)
    assert list(tmp_path.iterdir()) == []


def test_fault_markers_are_hidden_from_the_video_text() -> None:
    assert display_text("a cat #fault:no_webhook  on a mat #fault:error") == "a cat on a mat"
    assert requested_names({"prompt": "x #fault:error", "sandbox_faults": ["no_webhook"]}) == ["error", "no_webhook"]


def test_fault_planner_once_and_rates() -> None:
    planner = FaultPlanner()
    assert planner.submit_fault(["submit_500_once"], "p") == "submit_500"
    assert planner.submit_fault(["submit_500_once"], "p") is None
    assert planner.submit_fault(["submit_500_once"], "other") == "submit_500"
    assert planner.submit_fault(["submit_429"], "p") == "submit_429"
    assert planner.request_faults(["no_webhook", "submit_500", "bogus"]) == ["no_webhook"]
    with pytest.raises(ValueError):
        parse_rates("submit_500=2")
    assert parse_rates("submit_500=0.05, no_webhook=0.1") == {"submit_500": 0.05, "no_webhook": 0.1}
