"""``python -m falsandbox``: run the fake fal queue until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Optional, Sequence

from .config import DEFAULT_HANG_SECONDS, DEFAULT_SECONDS, SandboxConfig
from .faults import ALL_FAULTS, FaultPlanner, parse_rates
from .server import SandboxServer
from .signing import Signer, load_or_create_key
from .state import log_line


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> SandboxConfig:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m falsandbox",
        description="Local stand-in for fal.ai's queue API (submit, status, result, cancel, signed webhooks).",
        epilog="Fault names: " + ", ".join(ALL_FAULTS),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument("--public-url", default=env.get("SANDBOX_PUBLIC_URL"),
                        help="base URL used in URLs handed out (default http://HOST:PORT)")
    parser.add_argument("--seconds", type=_positive_float,
                        default=float(env.get("SANDBOX_SECONDS") or DEFAULT_SECONDS),
                        help="total time a generation takes: a third queued, the rest rendering")
    parser.add_argument("--key-file", type=Path, default=env.get("SANDBOX_KEY_FILE") or None,
                        help="Ed25519 private key (PEM); created if missing (default: in-memory key)")
    parser.add_argument("--files-dir", type=Path, default=None, help="where rendered videos go (default: temp dir)")
    parser.add_argument("--faults", default=env.get("SANDBOX_FAULTS", ""),
                        help="random fault rates, e.g. submit_500=0.05,no_webhook=0.1")
    parser.add_argument("--random-seed", type=int, default=None, help="seed for random faults")
    parser.add_argument("--hang-seconds", type=_positive_float, default=DEFAULT_HANG_SECONDS,
                        help="how long submit_timeout holds the connection")
    parser.add_argument("--max-concurrent", type=int, default=int(env.get("SANDBOX_MAX_CONCURRENT") or 4),
                        help="renders at once; later requests wait in the queue (as on a real provider)")
    args = parser.parse_args(argv)
    try:
        rates = parse_rates(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    return SandboxConfig(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        seconds=args.seconds,
        key_file=args.key_file,
        files_dir=args.files_dir,
        fault_rates=rates,
        random_seed=args.random_seed,
        hang_seconds=args.hang_seconds,
        max_concurrent=max(1, args.max_concurrent),
    )


def _interrupt(signum: int, frame: Optional[FrameType]) -> None:
    # serve_forever runs on the main thread; raising here unwinds it cleanly.
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    config = parse_args(argv)
    signer = Signer(load_or_create_key(config.key_file))
    server = SandboxServer(config, signer, FaultPlanner(config.fault_rates, config.random_seed))
    port = server.server_address[1]
    # The first line is a contract: testing.run_sandbox parses it to learn the port.
    print(f"falsandbox listening on http://{config.host}:{port}", flush=True)
    log_line(
        f"public_url={server.public_url} seconds={config.seconds:g} kid={signer.kid} "
        f"files={server.engine.files_dir} faults={config.fault_rates or '-'}"
    )
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        server.stop_sandbox()
        server.server_close()
        log_line("falsandbox stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
