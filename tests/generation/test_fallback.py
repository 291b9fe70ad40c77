"""Fallback models (generation/fallback.py): when a model's breaker is open or the
provider fails a video, a job that allows it has the video made with the model's
fallback, mapped onto the fallback's choices, and pays the cheaper of the two. Through
the real submit step, status polls and downloads over HTTP to the sandbox."""

from decimal import Decimal

import pytest
from django.urls import reverse

from credits.models import EntryKind, LedgerEntry, ProviderCost, Wallet
from credits.services import set_tier
from generation.catalog import get_model
from generation.fallback import nearest_duration, nearest_ratio, nearest_resolution, replan
from generation.models import ErrorKind, Task, TaskStatus, Waiting
from generation.reconcile import reconcile_overdue_tasks, refresh_from_provider
from generation.services import start_generation
from generation.submission import submit_task
from operations.services import open_breaker_by_hand
from tests.factories import fund, make_task, make_user, png_upload
from tests.support import run_queued_tasks, wait_until_rendered

pytestmark = pytest.mark.django_db

KLING_21 = get_model("kling-2.1-t2v")
VEO = get_model("veo-3.1")


def ledger(task) -> list[tuple[str, int]]:
    return sorted(LedgerEntry.objects.filter(task=task).values_list("kind", "credits"))


def submitted(task) -> Task:
    submit_task(task_id=task.pk)
    return Task.objects.select_related("job").get(pk=task.pk)


def test_settings_map_to_the_nearest_choice_the_fallback_offers():
    assert nearest_duration(10, (4, 6, 8)) == 8
    assert nearest_duration(5, (4, 6, 8)) == 4  # a tie: the shorter (and cheaper)
    assert nearest_duration(3, tuple(range(3, 16))) == 3
    assert nearest_ratio("21:9", ("16:9", "9:16", "1:1")) == "16:9"
    assert nearest_ratio("4:5", ("16:9", "9:16", "1:1")) == "1:1"
    assert nearest_ratio("9:21", ("16:9", "9:16")) == "9:16"
    assert nearest_ratio("", ("16:9", "9:16")) == "16:9" and nearest_ratio("1:1", ()) == ""
    assert nearest_resolution("4k", ("480p", "720p"), "720p") == "720p"
    assert nearest_resolution("540p", ("512P", "768P"), "768P") == "512P"
    assert nearest_resolution("1080p", ("720p", "1080p", "4k"), "720p") == "1080p"
    assert nearest_resolution("", ("720p", "1080p"), "1080p") == "1080p"


def test_an_open_breaker_has_the_video_made_with_the_fallback_at_the_cheaper_price(sandbox, user, client):
    open_breaker_by_hand(name="kling")
    job = start_generation(
        user=user, model_key=KLING_21.key, prompt="a heron lifting off a misty lake", duration=10,
        aspect_ratio="9:16", negative_prompt="blur",
    )
    (first,) = job.tasks.all()
    assert job.allow_fallback and ledger(first) == [(EntryKind.RESERVE, 3)]

    first = submitted(first)
    assert first.status == TaskStatus.CANCELLED
    assert first.error_message == f"{KLING_21.label} was unavailable; made with {VEO.label} instead."
    new = first.retried_by
    assert (new.status, new.made_with, new.endpoint, new.model_key) == (TaskStatus.PENDING, VEO.key, VEO.endpoint, VEO.key)
    # The job's settings on Veo's own choices: 10 s is 8 s there, the ratio and what to
    # avoid are kept, Veo's default resolution and sound, and a seed of ours.
    assert {k: new.arguments[k] for k in ("duration", "aspect_ratio", "resolution", "negative_prompt")} == {
        "duration": "8s", "aspect_ratio": "9:16", "resolution": "720p", "negative_prompt": "blur"
    }
    assert new.arguments["generate_audio"] is True and new.seed == new.arguments["seed"]
    assert new.arguments["prompt"] == "a heron lifting off a misty lake" and new.aspect_ratio == "9:16"
    # The first attempt's 3 credits came back; the new one holds the cheaper price, Veo's 2.
    assert ledger(first) == [(EntryKind.RELEASE, 3), (EntryKind.RESERVE, 3)]
    assert ledger(new) == [(EntryKind.RESERVE, 2)]
    assert new.history_item.pk == job.tasks.get(pk=new.pk).history_item.pk

    # The fallback's group is open: sent to Veo's endpoint, and the video comes home.
    new = submitted(new)
    assert new.status == TaskStatus.QUEUED
    assert sandbox.request(new.request_id)["application"] == VEO.endpoint
    wait_until_rendered(sandbox, new.request_id)
    refresh_from_provider(task_id=new.pk)
    run_queued_tasks()
    new.refresh_from_db()
    assert new.status == TaskStatus.COMPLETED
    assert ledger(new) == [(EntryKind.CHARGE, 2), (EntryKind.RESERVE, 2)]
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (50 - 2, 0)
    # What fal billed is Veo's price for what was sent (8 s at 720p with sound).
    cost = ProviderCost.objects.get(task=new)
    assert (cost.model_key, cost.endpoint, cost.amount_usd) == (VEO.key, VEO.endpoint, Decimal("3.2000"))

    # The card and the detail page say which model made it.
    client.force_login(user)
    card = new.history_item
    for page in (reverse("history:gallery"), reverse("history:detail", args=[card.pk])):
        html = client.get(page).content.decode()
        assert f"ade with {VEO.label} instead" in html, page


def test_the_user_pays_their_own_model_when_it_is_the_cheaper(sandbox, user):
    open_breaker_by_hand(name="kling")
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="rain on a tin roof", duration=5)
    new = submitted(job.tasks.get()).retried_by
    assert new.made_with == VEO.key and VEO.credits_per_video > 1
    assert ledger(new) == [(EntryKind.RESERVE, 1)]


def test_a_model_failure_at_the_provider_is_made_good_with_the_fallback(sandbox, user):
    job = start_generation(
        user=user, model_key=VEO.key, prompt="a glass city at night #fault:error #fault:no_webhook", duration=6,
        resolution="4k", aspect_ratio="9:16", audio=True, seed=7,
    )
    task = submitted(job.tasks.get())
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    # The failure stays on the first attempt; the video goes on on Kling 3.
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.PROVIDER)
    new = task.retried_by
    kling = get_model("kling-3-t2v")
    assert (new.made_with, new.endpoint, new.status) == (kling.key, kling.endpoint, TaskStatus.PENDING)
    assert new.arguments == {
        "prompt": "a glass city at night #fault:error #fault:no_webhook", "duration": "6", "aspect_ratio": "9:16",
        "generate_audio": True,
    }
    assert new.seed is None  # Kling takes no seed
    assert ledger(new) == [(EntryKind.RESERVE, 1)]

    # A fallback does not fall back again: its own failure is the end of it.
    new = submitted(new)
    wait_until_rendered(sandbox, new.request_id)
    refresh_from_provider(task_id=new.pk)
    new.refresh_from_db()
    assert (new.status, new.error_kind) == (TaskStatus.FAILED, ErrorKind.PROVIDER)
    assert not Task.objects.filter(retried_from=new).exists()
    wallet = Wallet.objects.get(user=user)
    assert (wallet.balance, wallet.reserved) == (50, 0)


def test_a_submit_that_gives_up_on_server_errors_falls_back(sandbox, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 1
    settings.BREAKER_FAILURE_THRESHOLD = 10
    task = submitted(make_task(prompt="a kite over dunes #fault:submit_500"))
    assert (task.status, task.error_kind, task.request_id) == (TaskStatus.FAILED, ErrorKind.PROVIDER, "")
    assert task.retried_by.made_with == VEO.key


def test_a_refused_input_never_falls_back(sandbox):
    task = submitted(make_task(prompt="a forbidden thing #fault:validation_422 #fault:no_webhook"))
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.VALIDATION)
    assert not Task.objects.filter(retried_from=task).exists()


def test_a_task_past_its_maximum_age_never_falls_back(settings):
    # It may still be running at fal: a second request could pay twice.
    task = make_task(status=TaskStatus.QUEUED, request_id="r-1", sent_at=None)
    Task.objects.filter(pk=task.pk).update(created_at=task.created_at.replace(year=2020))
    assert reconcile_overdue_tasks().expired == [str(task.pk)]
    assert not Task.objects.filter(retried_from=task).exists()


def test_without_the_users_leave_the_task_waits_or_fails_as_before(sandbox, settings):
    open_breaker_by_hand(name="kling")
    waiting = submitted(make_task(prompt="no fallback please", allow_fallback=False))
    assert (waiting.status, waiting.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)
    assert not Task.objects.filter(retried_from=waiting).exists()

    task = submitted(make_task(model_key=VEO.key, prompt="veo only #fault:error #fault:no_webhook", allow_fallback=False))
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.PROVIDER)
    assert not Task.objects.filter(retried_from=task).exists()


def test_when_the_fallback_is_unavailable_too_the_task_waits(sandbox):
    open_breaker_by_hand(name="kling")
    open_breaker_by_hand(name="veo")
    task = submitted(make_task(prompt="both down"))
    assert (task.status, task.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)
    assert not Task.objects.filter(retried_from=task).exists()


def test_tasks_waiting_for_a_slot_move_to_the_fallback_when_the_breaker_opens(
    sandbox, settings, django_capture_on_commit_callbacks
):
    settings.PROVIDER_MAX_IN_FLIGHT = 1
    running = submitted(make_task(prompt="slot holder"))
    waiting = submitted(make_task(prompt="in line"))
    stays = submitted(make_task(prompt="in line, no fallback", allow_fallback=False))
    assert running.status == TaskStatus.QUEUED and waiting.waiting == stays.waiting == Waiting.SLOT
    with django_capture_on_commit_callbacks(execute=True):
        open_breaker_by_hand(name="kling")
    run_queued_tasks()  # their submit steps: each finds the breaker open
    waiting.refresh_from_db()
    stays.refresh_from_db()
    assert waiting.status == TaskStatus.CANCELLED and waiting.retried_by.status == TaskStatus.QUEUED
    assert waiting.retried_by.endpoint == VEO.endpoint
    # Not offered: it waits for Kling, in its place in the line.
    assert stays.status == TaskStatus.PENDING and not Task.objects.filter(retried_from=stays).exists()


def test_a_fallback_that_cannot_take_the_request_is_not_used(sandbox, user):
    # Kling 2.6's fallback, LTX 2.3, takes nothing to avoid: dropping it would change
    # the video asked for, so the video waits for Kling instead.
    open_breaker_by_hand(name="kling")
    job = start_generation(
        user=user, model_key="kling-2.6-i2v", prompt="the boat drifts", duration=5, negative_prompt="people",
        image=png_upload(),
    )
    task = job.tasks.get()
    with pytest.raises(Exception, match="negative_prompt"):
        replan(task, get_model("ltx-2.3-i2v"))
    task = submitted(task)
    assert (task.status, task.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)
    assert not Task.objects.filter(retried_from=task).exists()


def test_an_image_job_falls_back_with_its_image(sandbox, user):
    open_breaker_by_hand(name="kling")
    job = start_generation(user=user, model_key="kling-2.6-i2v", prompt="the boat drifts", duration=10, image=png_upload())
    new = submitted(submitted(job.tasks.get()).retried_by)
    ltx = get_model("ltx-2.3-i2v")
    assert (new.status, new.made_with) == (TaskStatus.QUEUED, ltx.key)
    seen = sandbox.request(new.request_id)
    assert seen["application"] == ltx.endpoint and seen["arguments"]["duration"] == 10
    assert seen["arguments"]["image_url"].startswith("http")


def test_a_user_at_the_daily_limit_keeps_the_waiting_task(sandbox, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 1, "pro": 200}
    user = make_user()
    fund(user, 10)
    set_tier(user=user, tier="free")
    open_breaker_by_hand(name="kling")
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="one a day", duration=5)
    # Yesterday's video: it counts no more today, but its fallback would be a new one today.
    Task.objects.filter(job=job).update(created_at=job.created_at.replace(year=2020))
    start_generation(user=user, model_key="veo-3.1", prompt="today's one", duration=4)
    task = submitted(job.tasks.get())
    assert (task.status, task.waiting) == (TaskStatus.PENDING, Waiting.BREAKER)
    assert ledger(task) == [(EntryKind.RESERVE, 1)]
