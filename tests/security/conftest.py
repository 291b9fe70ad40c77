import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto in server mode) in its own process, for the
    whole session: the storage talks to it over real HTTP with real signatures."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.2)
    yield endpoint
    process.terminate()
    process.wait(10)


@dataclass
class S3:
    endpoint: str
    bucket: str
    client: object


@pytest.fixture
def s3_storage(s3_server, settings):
    """Media storage switched to django-storages' S3 backend on a fresh private bucket."""
    import boto3

    bucket = f"media-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=s3_server, **credentials)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "access_key": credentials["aws_access_key_id"],
                "secret_key": credentials["aws_secret_access_key"],
                "region_name": credentials["region_name"],
                "default_acl": "private",
                "file_overwrite": False,
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    settings.MEDIA_URL_EXPIRE_SECONDS = 60
    return S3(endpoint=s3_server, bucket=bucket, client=client)
