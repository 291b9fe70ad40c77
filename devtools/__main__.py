"""Developer commands that drive the whole product from outside.

    .venv/bin/python -m devtools chaos --jobs 50 [--workers 2] [--seed 7] ...
"""

from __future__ import annotations

import argparse
import os
import sys


def _chaos(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools chaos",
        description=(
            "Drive N generations through web server, workers, reconciler and the local fal sandbox with "
            "faults injected at random and workers killed and replaced; print an audit line and exit "
            "non-zero if any video was lost, submitted twice or left a stray file."
        ),
    )
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--faults", default=None, help="Sandbox fault rates, e.g. no_webhook=0.1,result_500=0.05")
    parser.add_argument("--seconds", type=float, default=1.5, help="How long each sandbox generation takes.")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--kill-every", type=float, default=8.0, help="Kill a worker with SIGKILL this often.")
    parser.add_argument("--seed", type=int, default=None)
    options = parser.parse_args(argv)
    if options.jobs < 1:
        parser.error("--jobs must be at least 1")

    # The chaos user is on the pro plan; its daily limit must admit every job of the run.
    os.environ["DAILY_VIDEO_LIMITS"] = f"free=20,pro={max(options.jobs, 200)}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videoplanet.settings")
    import django

    django.setup()
    from devtools.chaos import DEFAULT_FAULTS, run_chaos

    report = run_chaos(
        jobs=options.jobs,
        workers=options.workers,
        faults=options.faults if options.faults is not None else DEFAULT_FAULTS,
        sandbox_seconds=options.seconds,
        timeout=options.timeout,
        kill_every=options.kill_every,
        seed=options.seed,
    )
    kinds = ", ".join(f"{kind}={count}" for kind, count in sorted(report.failure_kinds.items())) or "none"
    print(f"chaos: {report.seconds:.0f} s, {report.kills} worker(s) killed, failures by kind: {kinds}")
    print(f"chaos: credits {'balanced' if not report.credit_errors else '; '.join(report.credit_errors)}")
    print(report.line(), flush=True)
    if not report.ok:
        print(
            f"chaos: audit FAILED (unclassified failures: {report.unclassified_failures}, "
            f"credit errors: {len(report.credit_errors)})",
            file=sys.stderr,
        )
        return 1
    return 0


COMMANDS = {"chaos": _chaos}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(f"usage: python -m devtools {{{','.join(COMMANDS)}}} [options]")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
