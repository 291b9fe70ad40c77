"""The gallery groups a job's cards under its progress, keeps a running job at the
top and on one page, and refreshes the job's header with its cards."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from tests.factories import fund, make_task, make_user

pytestmark = pytest.mark.django_db


def job_of(user, styles=("anime", "noir", "cinematic"), prompt="a fox") -> Job:
    return start_generation(user=user, model_key="kling-3-t2v", prompt=prompt, duration=5, styles=list(styles))


def set_statuses(job, *statuses):
    for task, status in zip(job.tasks.order_by("variant_index"), statuses, strict=True):
        Task.objects.filter(pk=task.pk).update(status=status)


def section(html: str, job: Job) -> str:
    match = re.search(rf'<section class="job" id="job-{job.pk}">.*?</section>', html, re.S)
    assert match, f"no section for job {job.pk}"
    return match.group(0)


def test_a_jobs_cards_are_grouped_under_its_progress(signed_in, user):
    job = job_of(user)
    set_statuses(job, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.IN_PROGRESS)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    group = section(html, job)
    assert "1 of 3 done, 1 failed" in group and ">Cancel job<" in group
    assert group.count('<article class="card') == 3
    assert group.index("Anime") < group.index("Film noir") < group.index("Cinematic")  # planned order


def test_a_single_video_job_is_just_its_card(signed_in, user):
    job = job_of(user, styles=["anime"])
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert f'id="job-{job.pk}"' in html and '<section class="job"' not in html


def test_a_finished_job_offers_no_cancel(signed_in, user):
    job = job_of(user)
    set_statuses(job, TaskStatus.COMPLETED, TaskStatus.COMPLETED, TaskStatus.CANCELLED)
    group = section(signed_in.get(reverse("history:gallery")).content.decode(), job)
    assert "2 of 3 done, 1 cancelled" in group and "Cancel job" not in group and "Regenerate job" in group


def test_a_running_job_comes_first_and_stays_on_one_page(signed_in, user, settings):
    settings.GALLERY_PAGE_SIZE = 2
    running = job_of(user, prompt="the running one")
    Job.objects.filter(pk=running.pk).update(created_at=timezone.now() - timezone.timedelta(days=2))
    for n in range(3):
        make_task(user=user, status=TaskStatus.COMPLETED, prompt=f"newer finished {n}")
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert html.index("the running one") < html.index("newer finished 2")
    assert section(html, running).count('<article class="card') == 3
    assert "Page 1" in html and "?page=2" in html


def test_a_status_filter_shows_the_matching_cards_of_a_job(signed_in, user):
    job = job_of(user)
    set_statuses(job, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.FAILED)
    group = section(signed_in.get(reverse("history:gallery") + "?status=failed").content.decode(), job)
    assert group.count('<article class="card') == 2 and "1 of 3 done, 2 failed" in group


def test_updates_refresh_the_job_header_too(signed_in, user):
    job = job_of(user)
    set_statuses(job, TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS, TaskStatus.QUEUED)
    ids = ",".join(str(item_id) for item_id in job.tasks.values_list("history_item", flat=True))
    url = reverse("history:updates") + f"?ids={ids}"
    head = re.search(rf'<header[^>]*id="job-{job.pk}-head".*?</header>', signed_in.get(url).content.decode(), re.S).group(0)
    assert 'hx-swap-oob="true"' in head and "0 of 3 done" in head
    set_statuses(job, TaskStatus.COMPLETED, TaskStatus.COMPLETED, TaskStatus.COMPLETED)
    html = signed_in.get(url).content.decode()
    assert "3 of 3 done" in html and "Cancel job" not in html and "hx-trigger" not in html


def test_buttons_on_refreshed_cards_return_to_the_page_they_are_on(signed_in, user):
    item = make_task(user=user, status=TaskStatus.QUEUED).history_item
    page = reverse("history:gallery") + "?page=2"
    html = signed_in.get(
        reverse("history:updates") + f"?ids={item.pk}",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    ).content.decode()
    assert f'name="next" value="{page}"' in html.replace("&amp;", "&")


def test_the_detail_page_places_the_video_in_its_job(signed_in, user):
    job = job_of(user)
    item = job.tasks.get(variant_index=1).history_item
    html = signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    assert "video 2 of 3" in html and "Film noir" in html and "Regenerate the whole job" in html


def test_a_retry_without_credits_says_so(signed_in, user):
    item = make_task(user=user, status=TaskStatus.FAILED).history_item
    fund(user, 0)
    response = signed_in.post(reverse("history:retry", args=[item.pk]), follow=True)
    assert "Not enough credits" in response.content.decode()
    assert Task.objects.count() == 1


def test_buttons_never_send_the_user_elsewhere(signed_in, user):
    item = make_task(user=user, status=TaskStatus.QUEUED).history_item
    response = signed_in.post(reverse("history:cancel", args=[item.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("history:gallery")
