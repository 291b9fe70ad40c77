"""`make bench` / `python -m devtools.bench [section ...]`: run the benchmark sections,
each in a fresh database of the configured kind, and print one table of figures beside
their baselines. Sections: see SECTIONS (all by default)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from devtools.bench.common import RESULT_PREFIX  # noqa: E402
from devtools.localstack import fresh_database  # noqa: E402
from devtools.processes import ROOT  # noqa: E402

SECTIONS = ("gallery", "webhooks", "downloads", "pipeline", "slots")


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"{os.cpu_count()} cores ({cpu or platform.machine()}), {platform.system()} {platform.release()}, Python {platform.python_version()}, {engine}"


def run_section(name: str, extra: list[str]) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir, fresh_database(Path(workdir)) as database_url:
        env = {**os.environ, "DATABASE_URL": database_url, "MEDIA_ROOT": str(Path(workdir) / "media"), "PYTHONUNBUFFERED": "1"}
        process = subprocess.run(
            [sys.executable, "-m", f"devtools.bench.{name}", *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
    rows = []
    for line in process.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            rows.extend(json.loads(line[len(RESULT_PREFIX):]))
        else:
            print(line)
    if process.returncode != 0:
        print(f"bench: section {name} failed (exit {process.returncode})", file=sys.stderr)
    return rows


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("ms", "MiB/s", "req/s", "MiB") and value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}" if unit else f"{value:,.1f}"


def table(rows: list[dict]) -> str:
    lines = ["| measure | figure | baseline | ratio | note |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['value'] / r['baseline']:.2f}×" if r["baseline"] else "—"
        baseline = f"{fmt(r['baseline'], r['unit'])} ({r['baseline_label']})" if r["baseline"] is not None else "—"
        lines.append(f"| {r['measure']} | {fmt(r['value'], r['unit'])} | {baseline} | {ratio} | {r['note']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="Smaller sizes, for trying the suite out.")
    parser.add_argument("--sizes", help="pipeline: the two sizes, e.g. 50,500 (default 50,200).")
    parser.add_argument("--profile", metavar="DIR", help="pipeline: sample our processes with py-spy into DIR.")
    options = parser.parse_args()
    unknown = set(options.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    rows = []
    for name in options.sections or SECTIONS:
        extra = ["--quick"] if options.quick else []
        if name == "pipeline":
            extra += ["--sizes", options.sizes] if options.sizes else []
            extra += ["--profile", str(Path(options.profile).resolve())] if options.profile else []
        rows.extend(run_section(name, extra))
    print()
    print(f"Benchmarks of {started} on {machine()}")
    print(table(rows))


if __name__ == "__main__":
    main()
