from __future__ import annotations

from typing import Iterator

import fal_client.client
import pytest

from devtools.sandbox import SandboxProcess, run_sandbox

from .support import SandboxFalClient, WebhookReceiver, start_receiver


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    with run_sandbox(seconds=1.0) as process:
        yield process


@pytest.fixture(scope="session")
def fal(sandbox: SandboxProcess) -> SandboxFalClient:
    return SandboxFalClient(key="test", sandbox_url=sandbox.url, default_timeout=30)


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
