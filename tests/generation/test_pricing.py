"""What fal bills per model, by its published price rule, and when we record it."""

from decimal import Decimal as D

import pytest

import falschemas
from credits.models import ProviderCost
from credits.selectors import provider_spend
from generation.catalog import MODELS, get_model
from generation.models import ErrorKind, Job, Task, TaskStatus
from generation.services import fail_task, start_generation
from generation.transitions import transition_task
from tests.factories import fund, make_user


def charge(key, **chosen):
    spec = get_model(key)
    return spec.charge_for(spec.build_arguments(prompt="p", **chosen)).usd


@pytest.mark.parametrize(
    ("key", "chosen", "usd"),
    [
        # Kling 3 Standard: $0.084/s silent, $0.126/s with sound.
        ("kling-3-t2v", {"duration": 5, "audio": False}, D("0.420")),
        ("kling-3-t2v", {"duration": 15, "audio": True}, D("1.890")),
        # Kling 2.1 Master: $1.40 for the first 5 s, then $0.28 a second.
        ("kling-2.1-t2v", {"duration": 5}, D("1.40")),
        ("kling-2.1-t2v", {"duration": 10}, D("2.80")),
        # Kling 2.1 Standard image-to-video: $0.28 + $0.056 a second after 5.
        ("kling-2.1-i2v", {"duration": 10}, D("0.560")),
        # Kling 2.6 Pro: $0.07/s silent, $0.14/s with sound.
        ("kling-2.6-i2v", {"duration": 10, "audio": False}, D("0.70")),
        ("kling-2.6-i2v", {"duration": 5, "audio": True}, D("0.70")),
        # Veo 3.1: by resolution and sound.
        ("veo-3.1", {"duration": 8, "resolution": "1080p", "audio": False}, D("1.60")),
        ("veo-3.1", {"duration": 8, "resolution": "4k", "audio": True}, D("4.80")),
        ("veo-3.1", {"duration": 4, "resolution": "720p", "audio": True}, D("1.60")),
        # Seedance 2.0 Fast: $0.2419 per second of 720p.
        ("seedance-2-fast-t2v", {"duration": 10, "resolution": "720p"}, D("2.4190")),
        # Hailuo 2.3: a price per clip.
        ("hailuo-2.3-t2v", {"duration": 6}, D("0.28")),
        ("hailuo-2.3-t2v", {"duration": 10}, D("0.56")),
        # Hailuo 02: per second by resolution (6 s at 768P = $0.27, as fal's page says).
        ("hailuo-02-i2v", {"duration": 6, "resolution": "768P"}, D("0.270")),
        ("hailuo-02-i2v", {"duration": 10, "resolution": "512P"}, D("0.170")),
        # Luma Ray 2 Flash: $0.2 per started 5 s; 720p twice, 1080p four times.
        ("luma-ray-2-flash-i2v", {"duration": 5, "resolution": "540p"}, D("0.2")),
        ("luma-ray-2-flash-i2v", {"duration": 9, "resolution": "1080p"}, D("1.6")),
        ("luma-ray-2-flash-i2v", {"duration": 9, "resolution": "720p"}, D("0.8")),
        # LTX 2.3: per second by resolution, sound or not.
        ("ltx-2.3-fast-t2v", {"duration": 20, "resolution": "2160p", "audio": True}, D("3.20")),
        ("ltx-2.3-i2v", {"duration": 6, "resolution": "1080p", "audio": False}, D("0.36")),
    ],
)
def test_each_model_prices_as_fal_publishes(key, chosen, usd):
    assert charge(key, **chosen) == usd


@pytest.mark.parametrize("spec", MODELS, ids=lambda spec: spec.key)
def test_every_request_has_a_price_and_published_rules_quote_fal(spec):
    assert spec.price is not None
    for arguments in spec.every_request():
        assert spec.charge_for(arguments).usd > 0
    if spec.price.published:
        assert spec.price.text == falschemas.schema(spec.endpoint).price_text
    else:
        assert spec.price.source  # an estimate says what it is based on


def finish(task: Task, status: TaskStatus, **fields) -> Task:
    before = TaskStatus.DOWNLOADING if status == TaskStatus.COMPLETED else TaskStatus.IN_PROGRESS
    Task.objects.filter(pk=task.pk).update(status=before, request_id="req-1")
    return transition_task(task.pk, status, **fields)


def start(model_key="veo-3.1", **chosen):
    user = make_user()
    fund(user, 20)
    return start_generation(user=user, model_key=model_key, prompt="a fox", **chosen).tasks.get()


@pytest.mark.django_db
def test_the_cost_follows_what_was_sent():
    task = finish(start(duration=6, resolution="4k", audio=False), TaskStatus.COMPLETED)
    cost = ProviderCost.objects.get(task=task)
    assert (cost.seconds, cost.amount_usd, cost.usd_per_second, cost.outcome) == (D("6"), D("2.40"), D("0.40"), "completed")
    assert cost.basis == "6 s × $0.40/s at 4k silent"


@pytest.mark.django_db
def test_a_refused_input_fal_may_bill_is_recorded_as_failed():
    task = finish(start(), TaskStatus.FAILED, error_kind=ErrorKind.VALIDATION, error_message="Aspect ratio: no")
    cost = ProviderCost.objects.get(task=task)
    assert (cost.outcome, cost.amount_usd) == ("failed", D("3.20"))  # 8 s at 720p with sound
    assert provider_spend()[0]["amount_usd"] == D("3.20")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [ErrorKind.PROVIDER, ErrorKind.NETWORK, ErrorKind.TIMEOUT])
def test_failures_fal_does_not_bill_record_nothing(kind):
    task = finish(start(), TaskStatus.FAILED, error_kind=kind, error_message="no")
    assert not ProviderCost.objects.filter(task=task).exists()


@pytest.mark.django_db
def test_a_refusal_before_reaching_fal_records_nothing():
    task = start()
    fail_task(task_id=task.pk, kind=ErrorKind.VALIDATION, message="refused at submit")
    assert not ProviderCost.objects.filter(task=task).exists()


@pytest.mark.django_db
def test_an_estimated_price_is_marked():
    task = finish(start("luma-ray-2", duration=9, resolution="720p"), TaskStatus.COMPLETED)
    cost = ProviderCost.objects.get(task=task)
    assert (cost.amount_usd, cost.estimated) == (D("0.8"), True)


@pytest.mark.django_db
def test_a_model_no_longer_offered_still_finishes_and_records_no_price():
    task = start("kling-3-t2v")
    Task.objects.filter(pk=task.pk).update(endpoint="fal-ai/retired/text-to-video")
    Job.objects.filter(pk=task.job_id).update(model_key="retired")
    finished = finish(task, TaskStatus.COMPLETED)
    assert finished.status == TaskStatus.COMPLETED
    cost = ProviderCost.objects.get(task=task)
    assert (cost.amount_usd, cost.basis, cost.estimated) == (D("0"), "no published price", True)
