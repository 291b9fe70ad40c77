"""The Generate page for jobs of several videos: styles, ratios, single and batch
modes, the live count-and-cost line, credit refusals, regenerate and cancel."""

import re

import pytest
from django.urls import reverse

from credits.models import Wallet
from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from history.models import HistoryItem
from tests.factories import fund, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def post(client, **fields):
    data = {"prompt": "a red fox", "model": "kling-3-t2v", "duration": "5"}
    data.update(fields)
    return client.post(reverse("generation:generate"), data)


def test_single_mode_makes_every_combination(signed_in):
    response = post(signed_in, styles=["anime", "noir", "cinematic"], aspect_ratios=["16:9", "9:16"])
    assert response.status_code == 302
    job = Job.objects.get()
    tasks = list(job.tasks.order_by("variant_index"))
    assert [(t.style, t.aspect_ratio) for t in tasks] == [
        ("anime", "16:9"), ("anime", "9:16"), ("noir", "16:9"), ("noir", "9:16"), ("cinematic", "16:9"), ("cinematic", "9:16"),
    ]
    assert tasks[0].arguments["prompt"] == "a red fox, anime style, cel shading, vibrant colours"
    assert tasks[1].arguments["aspect_ratio"] == "9:16"
    assert HistoryItem.objects.count() == 6 and len(queued_tasks("submit_task")) == 6
    assert (job.params["count"], job.params["mode"], job.params["styles"]) == (6, "single", ["anime", "noir", "cinematic"])
    assert Wallet.objects.get(user=job.user).balance == 44


def test_batch_mode_makes_exactly_the_number_asked(signed_in):
    post(signed_in, styles=["anime", "noir", "cinematic"], aspect_ratios=["16:9", "9:16"], mode="batch", count="5")
    tasks = Task.objects.order_by("variant_index")
    assert [(t.style, t.aspect_ratio) for t in tasks] == [
        ("anime", "16:9"), ("anime", "9:16"), ("noir", "16:9"), ("noir", "9:16"), ("cinematic", "16:9"),
    ]


def test_a_wrapping_batch_on_a_seeded_model_gives_each_round_its_own_seed(signed_in):
    post(signed_in, model="veo-3.1", duration="4", styles=["anime"], aspect_ratios=["16:9"], mode="batch", count="3")
    seeds = [t.seed for t in Task.objects.order_by("variant_index")]
    assert len(set(seeds)) == 3 and seeds[1] == (seeds[0] + 1) % 2**31
    assert [t.arguments["seed"] for t in Task.objects.order_by("variant_index")] == seeds
    assert Job.objects.get().params["seed"] is None  # what the user gave


def test_one_video_by_default(signed_in):
    post(signed_in)
    task = Task.objects.get()
    assert (task.style, task.aspect_ratio, task.arguments["prompt"]) == ("none", "16:9", "a red fox")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"styles": ["no-such-style"]}, "styles", "Select a valid choice"),
        ({"model": "veo-3.1", "duration": "4", "aspect_ratios": ["16:9", "1:1"]}, "aspect_ratios", "supports 16:9, 9:16"),
        ({"mode": "everything"}, "mode", "Select a valid choice"),
        ({"mode": "batch", "count": "21"}, "count", "Select a valid choice"),
        ({"mode": "batch", "count": ""}, "count", "Choose how many videos"),
        (
            {"styles": ["none", "anime", "noir", "cinematic", "watercolour", "claymation", "documentary", "retro-neon"],
             "aspect_ratios": ["16:9", "9:16", "1:1"]},
            "__all__",
            "a job makes at most 20 videos",
        ),
        ({"prompt": "x" * 990, "styles": ["anime"]}, "prompt", "shorten it by"),
    ],
)
def test_invalid_plans_are_refused_clearly(signed_in, fields, field, message):
    response = post(signed_in, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Job.objects.exists()


def test_not_enough_credits_is_said_on_the_form_and_nothing_is_made(signed_in, user):
    fund(user, 2)
    response = post(signed_in, styles=["anime", "noir", "cinematic"])
    assert response.status_code == 200
    assert "needs 3 credits and you have 2" in response.content.decode()
    assert not Job.objects.exists() and queued_tasks() == []


def test_the_daily_limit_is_said_on_the_form(signed_in, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 2, "pro": 2}
    response = post(signed_in, styles=["anime", "noir", "cinematic"])
    assert "allows 2 videos a day" in response.content.decode()
    assert not Job.objects.exists()


def summary(client, query: str) -> str:
    html = client.get(reverse("generation:plan") + "?" + query).content.decode()
    return re.sub(r"\s+", " ", html)


def test_the_count_and_cost_line_comes_from_the_planning_rules(signed_in):
    html = summary(signed_in, "model=kling-3-t2v&styles=anime&styles=noir&styles=cinematic&aspect_ratios=16:9&aspect_ratios=9:16")
    assert "3 styles × 2 aspect ratios = 6 videos · 6 credits" in html and "You have 50 credits" in html
    html = summary(signed_in, "model=veo-3.1&styles=anime&mode=batch&count=3")
    assert "3 videos over 1 style × 1 aspect ratio (1 combination, 2 repeated with new seeds) · 6 credits" in html


def test_the_line_names_what_is_wrong(signed_in):
    assert "supports 16:9, 9:16" in summary(signed_in, "model=veo-3.1&aspect_ratios=1:1")
    assert "at most 20 videos" in summary(signed_in, "model=kling-3-t2v&" + "&".join(
        f"styles={s}" for s in ["none", "anime", "noir", "cinematic", "watercolour", "claymation", "documentary"]
    ) + "&aspect_ratios=16:9&aspect_ratios=9:16&aspect_ratios=1:1")


def test_changing_the_model_offers_its_own_ratios_and_refreshes_the_line(signed_in):
    html = summary(signed_in, "part=ratios&model=veo-3.1&aspect_ratios=1:1&aspect_ratios=9:16")
    assert 'value="16:9"' in html and 'value="1:1"' not in html
    assert re.search(r'value="9:16"[^>]*checked', html)
    assert 'id="plan-summary"' in html and 'hx-swap-oob="true"' in html
    assert "1 style × 1 aspect ratio = 1 video · 2 credits" in html  # 1:1 dropped, Veo costs 2
    assert "keeps the shape of your input image" in summary(signed_in, "part=ratios&model=kling-2.1-i2v")


def test_the_form_shows_the_line_and_live_updates_on_first_render(signed_in):
    html = re.sub(r"\s+", " ", signed_in.get(reverse("generation:generate")).content.decode())
    assert "1 style × 1 aspect ratio = 1 video · 1 credit" in html
    assert f'hx-get="{reverse("generation:plan")}"' in html
    assert 'name="styles"' in html and 'name="aspect_ratios"' in html and 'name="mode"' in html


def test_regenerate_prefills_every_setting_of_a_job(signed_in, user):
    job = start_generation(
        user=user, model_key="veo-3.1", prompt="a calm sea", duration=6, styles=["anime", "noir"],
        aspect_ratios=["9:16"], mode="batch", count=3, negative_prompt="blur", seed=7,
    )
    response = signed_in.get(job.regenerate_url)
    initial = response.context["form"].initial
    assert initial["styles"] == ["anime", "noir"] and initial["aspect_ratios"] == ["9:16"]
    assert (initial["model"], initial["prompt"], initial["duration"], initial["mode"], initial["count"]) == (
        "veo-3.1", "a calm sea", "6", "batch", "3",
    )
    assert (initial["negative_prompt"], initial["seed"]) == ("blur", "7")
    html = re.sub(r"\s+", " ", response.content.decode())
    assert "3 videos over 2 styles × 1 aspect ratio" in html


def test_regenerate_from_one_card_narrows_to_its_variant(signed_in, user):
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"], aspect_ratios=["16:9", "1:1"])
    task = job.tasks.get(variant_index=3)
    initial = signed_in.get(task.regenerate_url).context["form"].initial
    assert (initial["styles"], initial["aspect_ratios"], initial["mode"]) == (["noir"], ["1:1"], "single")


class TestCancelJob:
    def make_job(self, user):
        job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir", "cinematic", "claymation"])
        tasks = list(job.tasks.order_by("variant_index"))
        Task.objects.filter(pk=tasks[0].pk).update(status=TaskStatus.COMPLETED)
        Task.objects.filter(pk=tasks[1].pk).update(status=TaskStatus.DOWNLOADING)
        Task.objects.filter(pk=tasks[2].pk).update(status=TaskStatus.IN_PROGRESS, request_id="req-3")
        return job, tasks

    def test_cancel_stops_what_it_can_and_says_what_happened(self, signed_in, user):
        job, tasks = self.make_job(user)
        response = signed_in.post(reverse("generation:cancel-job", args=[job.pk]), follow=True)
        text = re.sub(r"\s+", " ", response.content.decode())
        assert (
            "Cancelled 2 videos and returned 2 credits; 1 had reached the provider, which was asked to stop; "
            "1 was already finished; 1 is being saved and will complete." in text
        )
        statuses = [Task.objects.get(pk=t.pk).status for t in tasks]
        assert statuses == [TaskStatus.COMPLETED, TaskStatus.DOWNLOADING, TaskStatus.CANCELLED, TaskStatus.CANCELLED]
        assert len(queued_tasks("cancel_at_provider")) == 1
        assert Wallet.objects.get(user=user).reserved == 2  # the finished and the saving one

    def test_cancelling_a_finished_job_says_so(self, signed_in, user):
        job, _ = self.make_job(user)
        signed_in.post(reverse("generation:cancel-job", args=[job.pk]))
        response = signed_in.post(reverse("generation:cancel-job", args=[job.pk]), follow=True)
        assert "1 is being saved and will complete" in response.content.decode()
        job.tasks.filter(status=TaskStatus.DOWNLOADING).update(status=TaskStatus.COMPLETED)
        response = signed_in.post(reverse("generation:cancel-job", args=[job.pk]), follow=True)
        assert "Nothing to cancel" in response.content.decode()

    def test_another_users_job_is_404_and_untouched(self, signed_in):
        bob = make_user("bob")
        fund(bob, 10)
        job, _ = self.make_job(bob)
        assert signed_in.post(reverse("generation:cancel-job", args=[job.pk])).status_code == 404
        assert not job.tasks.filter(status=TaskStatus.CANCELLED).exists()

    def test_only_post_and_no_redirect_elsewhere(self, signed_in, user):
        job, _ = self.make_job(user)
        assert signed_in.get(reverse("generation:cancel-job", args=[job.pk])).status_code == 405
        response = signed_in.post(reverse("generation:cancel-job", args=[job.pk]), {"next": "https://evil.example/"})
        assert response["Location"].startswith(reverse("history:gallery"))
