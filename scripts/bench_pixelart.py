"""How much CPU the pixel-art conversion takes, measured on a video made here.

Encodes a 10-second 1920×1080 H.264 video at 30 fps with PyAV (a moving figure over a
changing background, so no two frames are alike), then converts it as the background
step does — decode, scale, quantise, and write the sheet, its JSON, the GIF and the
ZIP — and prints the CPU time (user + system of this process) and the wall time of
each setting, best of --repeat runs. The goal: 24 frames of 64×64 in under 2 s of CPU.

    .venv/bin/python scripts/bench_pixelart.py [--repeat 3] [--keep video.mp4]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import av
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixelart.render import Options, render  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 30, 10

SETTINGS = {
    "24 frames 64x64, adaptive 16, no dither": Options(size=64, frames=24, colors=16),
    "24 frames 64x64, PICO-8, Floyd-Steinberg, transparent": Options(size=64, frames=24, palette="pico-8", dither="floyd-steinberg", transparent=True),
    "240 frames 128x128 (24 fps), adaptive 32": Options(size=128, fps=24, colors=32),
    "80 frames width 256 (keep aspect, 8 fps), adaptive 64": Options(width=256, colors=64),
}


def make_video(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for n in range(FPS * SECONDS):
            shade = int(127 + 120 * math.sin(n / 25))
            image = Image.new("RGB", (WIDTH, HEIGHT), (shade, 90, 255 - shade))
            draw = ImageDraw.Draw(image)
            x = int(WIDTH / 2 + 700 * math.sin(n / 18)) - 200
            draw.ellipse((x, 300, x + 400, 700), fill=(255, 210, 40))
            draw.rectangle((0, 880, WIDTH, HEIGHT), fill=(30, 140, 60))
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def measure(path: Path, options: Options, repeat: int) -> tuple[float, float, int, int]:
    best_cpu = best_wall = math.inf
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        result = render(str(path), options, duration=SECONDS)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    size = len(result.sheet_png) + len(result.gif) + len(result.zip) + len(result.sheet_json)
    return best_cpu, best_wall, result.frame_count, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the source video here (and reuse it if present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "source.mp4"
        if not path.exists():
            started = time.perf_counter()
            make_video(path)
            print(f"source: {WIDTH}x{HEIGHT}, {SECONDS} s at {FPS} fps, {path.stat().st_size / 1e6:.1f} MB (made in {time.perf_counter() - started:.1f} s)")
        goal_met = True
        for label, options in SETTINGS.items():
            cpu, wall, count, size = measure(path, options, args.repeat)
            print(f"{label:58} frames={count:3}  cpu={cpu:5.2f} s  wall={wall:5.2f} s  output={size / 1024:6.0f} KB")
            if label.startswith("24 frames 64x64, adaptive"):
                goal_met = cpu < 2.0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process: {peak:.0f} MB")
        print("goal (24 frames of 64x64 in < 2 s CPU):", "met" if goal_met else "NOT met")
        return 0 if goal_met else 1


if __name__ == "__main__":
    sys.exit(main())
