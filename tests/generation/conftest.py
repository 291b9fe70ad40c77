import pytest

from falsandbox.render import RenderSpec, render_video
from generation import fetch
from tests.hostile import Resolver, start_hostile_server

NAME = "media.fal.test"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    render_video(RenderSpec(prompt="hostile", width=320, height=180, duration=1.0, seed=3), path)
    return path.read_bytes()


@pytest.fixture
def hostile(tmp_path, settings, monkeypatch, clip):
    """A hostile HTTPS media host on loopback, reached as media.fal.test through a
    stand-in DNS, with production rules in force (see tests/hostile.py)."""
    server = start_hostile_server(tmp_path, [NAME, "other.fal.test"])
    server.routes.update({"/video": ("video", clip), "/chunked": ("chunked", clip)})
    settings.FAL_KEY = "production-key"
    settings.FAL_SANDBOX_URL = ""
    settings.DOWNLOAD_ALLOW_PRIVATE = False
    settings.DOWNLOAD_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.DOWNLOAD_ALLOWED_PORTS = [443, server.port]
    settings.FAL_MEDIA_HOSTS = [NAME, "other.fal.test", "internal.fal.test"]
    settings.DOWNLOAD_CA_BUNDLE = str(server.cert_path)
    resolver = Resolver({NAME: [["127.0.0.1"]], "other.fal.test": [["127.0.0.1"]]})
    monkeypatch.setattr(fetch, "resolve", resolver)
    server.resolver = resolver
    server.base = f"https://{NAME}:{server.port}"
    yield server
    server.server.shutdown()
