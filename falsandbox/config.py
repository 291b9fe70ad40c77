"""Settings shared by the server, the lifecycle engine and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

DEFAULT_SECONDS = 4.0
DEFAULT_HANG_SECONDS = 20.0
# result_too_large must exceed any sane app download limit without ever touching disk.
TOO_LARGE_BYTES = 300 * 1024 * 1024
# Bounded, growing pauses between webhook attempts (fal itself retries for hours).
WEBHOOK_RETRY_DELAYS = (1.0, 2.0, 4.0)
WEBHOOK_TIMEOUT = 10.0
DUPLICATE_WEBHOOK_DELAY = 1.0
SLOW_BYTES_PER_SECOND = 20 * 1024


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8001
    public_url: Optional[str] = None  # filled in with the bound port when None
    seconds: float = DEFAULT_SECONDS
    key_file: Optional[Path] = None
    files_dir: Optional[Path] = None
    fault_rates: dict[str, float] = field(default_factory=dict)
    random_seed: Optional[int] = None
    hang_seconds: float = DEFAULT_HANG_SECONDS
    max_concurrent: int = 4

    @property
    def queue_seconds(self) -> float:
        return self.seconds / 3

    @property
    def run_seconds(self) -> float:
        return self.seconds - self.queue_seconds
