from __future__ import annotations

from typing import Iterator

import fal_client.client
import pytest

from devtools.sandbox import SandboxProcess

from .support import SandboxFalClient, WebhookReceiver, start_receiver


@pytest.fixture(scope="session")
def fal(sandbox_process: SandboxProcess) -> SandboxFalClient:
    """fal-client pointed at the session's sandbox (tests/conftest.py starts it)."""
    return SandboxFalClient(key="test", sandbox_url=sandbox_process.url, default_timeout=30)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # fal-client retries 429s and transport errors up to 10 times; faults must surface at once.
    monkeypatch.setattr(fal_client.client, "MAX_ATTEMPTS", 1)
