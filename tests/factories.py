"""Test data, made one way for every test module."""

import itertools

from django.contrib.auth import get_user_model

from generation.catalog import get_model
from generation.models import Job, Task, TaskStatus
from history.models import HistoryItem

_numbers = itertools.count(1)


def make_user(username: str | None = None, **extra):
    username = username or f"user{next(_numbers)}"
    return get_user_model().objects.create_user(username=username, password="pw", **extra)


def make_task(
    *, user=None, status: TaskStatus = TaskStatus.PENDING, model_key: str = "kling-3-t2v", prompt: str = "a fox in the snow",
    allow_fallback: bool = True, **fields
) -> Task:
    """A job with one task and its gallery card, as start_generation makes them, in any
    status (set directly: tests of the state machine move it themselves)."""
    user = user or make_user()
    spec = get_model(model_key)
    job = Job.objects.create(
        user=user, model_key=model_key, prompt=prompt, params={"duration": 5, "aspect_ratio": "16:9"},
        allow_fallback=allow_fallback,
    )
    arguments = spec.build_arguments(prompt=prompt, duration=spec.default_duration, aspect_ratio="16:9")
    task = Task.objects.create(job=job, endpoint=spec.endpoint, arguments=arguments, status=status, **fields)
    HistoryItem.objects.create(user=user, task=task)
    return task


def fund(user, credits: int, *, tier: str | None = None):
    """Give a user exactly `credits` to spend (on top of nothing: the welcome grant is
    taken back), optionally on another tier. Returns the wallet."""
    from credits.services import ensure_wallet, grant_credits, set_tier

    wallet = ensure_wallet(user=user)
    wallet.refresh_from_db()
    if credits != wallet.balance:
        grant_credits(user=user, credits=credits - wallet.balance, note="test funds")
    if tier:
        set_tier(user=user, tier=tier)
    wallet.refresh_from_db()
    return wallet


def png_upload(width: int = 512, height: int = 512, colour=(10, 120, 200)):
    """An input image as a form or service receives it."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return SimpleUploadedFile("input.png", buffer.getvalue(), content_type="image/png")
