"""Summarise the collapsed stacks that `python -m devtools.bench pipeline --profile DIR`
wrote (py-spy's raw format: one stack a line, frames separated by `;`, then a count).

    python -m devtools.bench.stacks DIR [--match generation.] [--top 40]

Prints, per file, the samples in total, then the functions by inclusive share (a
function counts once per stack however deep it recurses), optionally only those whose
frame text contains `--match`. Samples are taken while a thread is on the CPU (py-spy
leaves idle threads out), so shares are of the CPU the process used."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_key(frame: str) -> str:
    """`function (path/to/module.py)`, the line number dropped so one function is one key."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = "/".join(path.split("/")[-2:])
    return f"{match.group('function')} ({path})"


def read(path: Path) -> tuple[int, Counter]:
    total, inclusive = 0, Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for key in {_frame_key(frame) for frame in stack.split(";")}:
            inclusive[key] += samples
    return total, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--match", default="", help="only functions whose frame contains this text")
    parser.add_argument("--top", type=int, default=40)
    options = parser.parse_args()
    for path in sorted(options.directory.glob("*.txt")):
        total, inclusive = read(path)
        print(f"== {path.name}: {total} samples")
        shown = [(key, samples) for key, samples in inclusive.most_common() if options.match in key]
        for key, samples in shown[: options.top]:
            print(f"{100 * samples / max(total, 1):6.1f}%  {key}")


if __name__ == "__main__":
    main()
