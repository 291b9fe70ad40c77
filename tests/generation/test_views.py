"""The Generate page: validation against the chosen model, what a valid press makes
(a job of one or many videos), the count-and-cost line (also in a real browser),
regenerate links, and cancelling a job."""

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from credits.models import Wallet
from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from history.models import HistoryItem
from tests.factories import fund, make_user, png_upload
from tests.support import browser_log_in, queued_tasks

pytestmark = pytest.mark.django_db


def png(width=512, height=512, fmt="PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile("input.png", buffer.getvalue(), content_type="image/png")


def post(client, **fields):
    data = {"prompt": "a red fox running through snow", "model": "kling-3-t2v", "duration": "5", "aspect_ratios": "16:9"}
    data.update(fields)
    return client.post(reverse("generation:generate"), {key: value for key, value in data.items() if value is not None})


def test_the_page_needs_a_login(client):
    response = client.get(reverse("generation:generate"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_form_renders_with_defaults(signed_in):
    response = signed_in.get(reverse("generation:generate"))
    assert response.status_code == 200
    assert b'name="prompt"' in response.content and b"Generate" in response.content


def test_a_valid_request_makes_a_job_a_task_a_card_and_queues_the_submit(signed_in):
    response = post(signed_in, negative_prompt="blur", audio="off")
    assert response.status_code == 302 and response["Location"] == reverse("history:gallery")
    job = Job.objects.get()
    task = Task.objects.get()
    assert (job.prompt, job.params["audio"], task.status) == ("a red fox running through snow", False, TaskStatus.PENDING)
    assert task.arguments == {
        "prompt": "a red fox running through snow",
        "duration": "5",
        "aspect_ratio": "16:9",
        "negative_prompt": "blur",
        "generate_audio": False,
    }
    assert HistoryItem.objects.get().task == task
    assert len(queued_tasks("submit_task")) == 1


def test_models_spell_their_arguments_their_own_way(signed_in):
    post(signed_in, model="luma-ray-2", duration="9", aspect_ratios="9:16")
    assert Task.objects.get().arguments == {
        "prompt": "a red fox running through snow", "duration": "9s", "aspect_ratio": "9:16", "resolution": "540p",
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": ""}, "prompt", "Describe the video you want."),
        ({"prompt": "   "}, "prompt", "Describe the video you want."),
        ({"prompt": "x" * 1001}, "prompt", "Keep the prompt to 1000 characters"),
        ({"duration": "16"}, "duration", "makes videos of 3, 4, 5"),
        ({"model": "luma-ray-2", "duration": "5", "aspect_ratios": "1:1"}, "aspect_ratios", "supports 16:9, 9:16, 4:3, 3:4, 21:9, 9:21"),
        ({"model": "veo-3.1", "duration": "6", "aspect_ratios": "1:1"}, "aspect_ratios", "supports 16:9, 9:16"),
        ({"model": "no-such-model"}, "model", "Select a valid choice"),
        ({"model": "veo-3.1", "duration": "6", "seed": "-1"}, "seed", "from 0 to 2147483647"),
        ({"seed": "42"}, "seed", "takes no seed"),
        ({"model": "luma-ray-2", "duration": "5", "negative_prompt": "blur"}, "negative_prompt", "takes nothing to avoid"),
        ({"model": "luma-ray-2", "duration": "5", "audio": "on"}, "audio", "makes silent videos"),
        ({"model": "luma-ray-2", "duration": "5", "resolution": "4k"}, "resolution", "makes 540p, 720p or 1080p videos"),
        ({"model": "kling-2.1-i2v", "aspect_ratios": None}, "image", "needs an input image"),
        ({"model": "kling-2.1-i2v", "aspect_ratios": "16:9"}, "aspect_ratios", "keeps the shape of your image"),
    ],
)
def test_invalid_requests_show_clear_errors_and_create_nothing(signed_in, fields, field, message):
    response = post(signed_in, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert Job.objects.count() == 0 and queued_tasks() == []


def test_an_image_to_video_request_keeps_the_image(signed_in):
    response = post(signed_in, model="kling-2.1-i2v", aspect_ratios=None, image=png())
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.input_image.name.startswith("inputs/") and job.input_image.size > 0
    assert "aspect_ratio" not in Task.objects.get().arguments


def test_a_refused_image_to_video_job_leaves_no_stored_image(client, settings):
    broke = make_user()
    fund(broke, 0)
    client.force_login(broke)
    response = post(client, model="kling-2.1-i2v", aspect_ratios=None, image=png())
    assert "Not enough credits" in " ".join(response.context["form"].non_field_errors())
    assert Job.objects.count() == 0
    inputs = Path(settings.MEDIA_ROOT) / "inputs"
    assert not inputs.exists() or not any(p.is_file() for p in inputs.rglob("*"))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png"), "Upload a valid image"),
        (png(100, 100), "at least 256 px"),
    ],
)
def test_bad_images_are_refused(signed_in, upload, message):
    response = post(signed_in, model="kling-2.1-i2v", aspect_ratios=None, image=upload)
    assert message in " ".join(response.context["form"].errors["image"])
    assert Job.objects.count() == 0


def test_an_image_for_a_text_model_is_refused(signed_in):
    response = post(signed_in, image=png())
    assert "text only" in " ".join(response.context["form"].errors["image"])


def test_regenerate_links_prefill_the_form(signed_in):
    response = signed_in.get(reverse("generation:generate") + "?model=veo-3.1&prompt=a+calm+sea&duration=6")
    form = response.context["form"]
    assert (form.initial["model"], form.initial["prompt"], form.initial["duration"]) == ("veo-3.1", "a calm sea", "6")


def post_job(client, **fields):
    data = {"prompt": "a red fox", "model": "kling-3-t2v", "duration": "5"}
    data.update(fields)
    return client.post(reverse("generation:generate"), data)


def test_single_mode_makes_every_combination(signed_in):
    response = post_job(signed_in, styles=["anime", "noir", "cinematic"], aspect_ratios=["16:9", "9:16"])
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
    post_job(signed_in, styles=["anime", "noir", "cinematic"], aspect_ratios=["16:9", "9:16"], mode="batch", count="5")
    tasks = Task.objects.order_by("variant_index")
    assert [(t.style, t.aspect_ratio) for t in tasks] == [
        ("anime", "16:9"), ("anime", "9:16"), ("noir", "16:9"), ("noir", "9:16"), ("cinematic", "16:9"),
    ]


def test_a_wrapping_batch_on_a_seeded_model_gives_each_round_its_own_seed(signed_in):
    post_job(signed_in, model="veo-3.1", duration="4", styles=["anime"], aspect_ratios=["16:9"], mode="batch", count="3")
    seeds = [t.seed for t in Task.objects.order_by("variant_index")]
    assert len(set(seeds)) == 3 and seeds[1] == (seeds[0] + 1) % 2**31
    assert [t.arguments["seed"] for t in Task.objects.order_by("variant_index")] == seeds
    assert Job.objects.get().params["seed"] is None  # what the user gave


def test_one_video_by_default(signed_in):
    post_job(signed_in)
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
    response = post_job(signed_in, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Job.objects.exists()


def test_not_enough_credits_is_said_on_the_form_and_nothing_is_made(signed_in, user):
    fund(user, 2)
    response = post_job(signed_in, styles=["anime", "noir", "cinematic"])
    assert response.status_code == 200
    assert "needs 3 credits and you have 2" in response.content.decode()
    assert not Job.objects.exists() and queued_tasks() == []


def test_the_daily_limit_is_said_on_the_form(signed_in, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 2, "pro": 2}
    response = post_job(signed_in, styles=["anime", "noir", "cinematic"])
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


def test_the_line_says_before_submitting_when_the_plan_costs_more_than_the_balance(signed_in, user):
    fund(user, 4)
    query = "model=kling-3-t2v&styles=anime&styles=noir&styles=cinematic&aspect_ratios=16:9&aspect_ratios=9:16"
    html = summary(signed_in, query)
    assert "= 6 videos · 6 credits" in html
    assert "That is more than your 4 credits: it needs 6." in html and "plan-summary problem" in html
    html = summary(signed_in, "model=kling-3-t2v&styles=anime&aspect_ratios=16:9&aspect_ratios=9:16")
    assert "more than your" not in html and "plan-summary problem" not in html


def test_the_line_says_before_submitting_when_the_plan_passes_the_daily_limit(signed_in, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 2, "pro": 2}
    html = summary(signed_in, "model=kling-3-t2v&styles=anime&styles=noir&styles=cinematic&aspect_ratios=16:9")
    assert "That is 3 videos and your plan allows 2 more today." in html


def test_the_form_counts_the_prompt_and_has_room_for_image_previews(signed_in):
    html = signed_in.get(reverse("generation:generate") + "?prompt=a+heron").content.decode()
    assert re.search(r'id="prompt-count" data-max="1000"[^>]*>7 of 1000 characters<', html)
    assert 'id="image-previews"' in html


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


def wait(browser, condition):
    """Wait for `condition`; an element swapped out while it was read is read again."""
    return WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(condition)


def summary_becomes(browser, text: str) -> str:
    def shown(b):
        line = b.find_element(By.ID, "plan-summary").text
        return line if text in line else None

    return wait(browser, shown)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_line_and_the_ratios_follow_the_choices(browser, live_server):
    user = make_user("gina")
    fund(user, 30)
    browser_log_in(browser, live_server.url, "gina", "pw")
    browser.get(f"{live_server.url}/generate/")
    browser.execute_script("window.stillTheSamePage = true")
    summary_becomes(browser, "1 style × 1 aspect ratio = 1 video · 1 credit")

    for style in ("anime", "noir", "cinematic"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=styles][value={style}]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='16:9']").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='1:1']").click()
    assert "You have 30 credits" in summary_becomes(browser, "3 styles × 2 aspect ratios = 6 videos · 6 credits")

    assert not browser.find_element(By.ID, "id_count").is_displayed()  # only for batch
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=batch]").click()
    assert browser.find_element(By.ID, "id_count").is_displayed()
    Select(browser.find_element(By.ID, "id_count")).select_by_value("8")
    summary_becomes(browser, "8 videos over 3 styles × 2 aspect ratios (6 combinations, 2 repeated with new seeds) · 8 credits")

    Select(browser.find_element(By.NAME, "model")).select_by_value("veo-3.1")  # 16:9 and 9:16 only, 2 credits
    wait(browser, lambda b: [e.get_attribute("value") for e in b.find_elements(By.CSS_SELECTOR, "input[name=aspect_ratios]")] == ["16:9", "9:16"])
    summary_becomes(browser, "8 videos over 3 styles × 1 aspect ratio (3 combinations, 5 repeated with new seeds) · 16 credits")
    assert wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='16:9']").is_selected())
    assert browser.execute_script("return window.stillTheSamePage") is True


def test_the_page_carries_a_new_one_time_key_each_time(signed_in):
    keys = [re.search(r'name="request_key" value="([^"]+)"', signed_in.get(reverse("generation:generate")).content.decode()).group(1) for _ in range(2)]
    assert keys[0] and keys[0] != keys[1]


def test_pressing_generate_twice_makes_one_job(signed_in, user):
    first = post(signed_in, request_key="page-1")
    second = post(signed_in, request_key="page-1")
    assert first.status_code == second.status_code == 302
    assert Job.objects.count() == 1 and Task.objects.count() == 1
    assert Wallet.objects.get(user=user).reserved == Job.objects.get().model_spec.credits_per_video
    shown = [str(m) for m in signed_in.get(reverse("history:gallery")).context["messages"]]
    assert any("already sent" in message for message in shown)


def test_the_page_sent_again_with_other_settings_asks_for_a_fresh_press(signed_in):
    post(signed_in, request_key="page-1")
    response = post(signed_in, request_key="page-1", prompt="a grey wolf in the snow")
    assert response.status_code == 200 and "already started a job" in response.content.decode()
    fresh = re.search(r'name="request_key" value="([^"]+)"', response.content.decode()).group(1)
    assert fresh != "page-1" and Job.objects.count() == 1
    assert post(signed_in, request_key=fresh, prompt="a grey wolf in the snow").status_code == 302
    assert Job.objects.count() == 2


def test_the_generate_button_is_disabled_while_the_page_submits(signed_in):
    page = signed_in.get(reverse("generation:generate")).content.decode()
    assert "data-submit-once" in page and "js/submit-once.js" in page
    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "submit-once.js").read_text()
    assert "button.disabled = true" in script and "event.preventDefault()" in script


def test_regenerate_from_an_image_to_video_card_keeps_every_setting_and_the_image(signed_in, user):
    original = start_generation(
        user=user, model_key="kling-2.1-i2v", prompt="the kite lifts off", duration=5,
        negative_prompt="blur", image=png_upload(colour=(1, 200, 3)),
    )
    task = original.tasks.get()
    link = task.regenerate_url
    page = signed_in.get(link).content.decode()
    assert f'name="frame" value="input:{task.history_item.pk}"' in page
    assert 'value="blur"' in page and "the kite lifts off" in page

    response = signed_in.post(reverse("generation:generate"), {
        "frame": f"input:{task.history_item.pk}", "prompt": "the kite lifts off", "model": "kling-2.1-i2v",
        "duration": "5", "negative_prompt": "blur",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    again = Job.objects.exclude(pk=original.pk).get(prompt="the kite lifts off")
    with again.input_image.open("rb") as stored:
        image = Image.open(stored)
        image.load()
    assert image.size == (512, 512) and image.getpixel((5, 5)) == (1, 200, 3)
    assert again.params["negative_prompt"] == "blur"


def test_another_users_card_is_no_input_image(signed_in, other_user):
    theirs = start_generation(user=other_user, model_key="kling-2.1-i2v", prompt="theirs", duration=5, image=png_upload())
    page = signed_in.get(theirs.tasks.get().regenerate_url).content.decode()
    assert 'name="frame"' not in page and "not available any more" in page


def test_the_fallback_box_is_ticked_by_default_and_unticking_it_is_kept(signed_in):
    page = signed_in.get(reverse("generation:generate")).content.decode()
    box = re.search(r'<input type="checkbox" name="allow_fallback"[^>]*>', page).group(0)
    assert "checked" in box and "fallback" in page
    post(signed_in, allow_fallback="on")
    post(signed_in, prompt="a grey wolf in the snow")  # the box unticked: the browser sends nothing
    assert list(Job.objects.order_by("created_at").values_list("allow_fallback", flat=True)) == [True, False]


def test_regenerate_keeps_the_last_frame_image_too(signed_in, user, other_user):
    original = start_generation(
        user=user, model_key="kling-2.6-i2v", prompt="a door opens", duration=5, audio=False,
        image=png_upload(colour=(1, 200, 3)), end_image=png_upload(colour=(200, 2, 4)),
    )
    task = original.tasks.get()
    card = task.history_item.pk
    page = signed_in.get(task.regenerate_url).content.decode()
    assert f'name="frame" value="input:{card}"' in page and f'name="end_frame" value="end:{card}"' in page

    response = signed_in.post(reverse("generation:generate"), {
        "frame": f"input:{card}", "end_frame": f"end:{card}", "prompt": "a door opens", "model": "kling-2.6-i2v",
        "duration": "5", "audio": "off",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    again = Job.objects.exclude(pk=original.pk).get()
    with again.input_end_image.open("rb") as stored:
        image = Image.open(stored)
        image.load()
    assert image.getpixel((5, 5)) == (200, 2, 4)

    signed_in.force_login(other_user)
    theirs = signed_in.get(task.regenerate_url).content.decode()
    assert 'name="end_frame"' not in theirs and "last frame is not available any more" in theirs
