"""The gallery: cards with their status, live refresh of unfinished cards only,
pagination, filters, and nobody else's items."""

import re

import pytest
from django.db import connection
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from history.models import HistoryItem, Rating
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def card(html: str, item: HistoryItem) -> str:
    match = re.search(rf'<article class="card[^"]*" id="card-{item.pk}".*?</article>', html, re.S)
    assert match, f"no card for {item.pk}"
    return match.group(0)


def completed_item(user, prompt="a finished fox") -> HistoryItem:
    task = make_task(user=user, status=TaskStatus.COMPLETED, prompt=prompt)
    item = task.history_item
    item.video.save(f"videos/{task.pk}.mp4", ContentFile(b"mp4"), save=False)
    item.poster.save(f"posters/{task.pk}.jpg", ContentFile(b"jpg"), save=False)
    item.duration_seconds, item.width, item.height, item.size_bytes = 5.0, 480, 270, 3
    item.save()
    return item


def test_the_gallery_needs_a_login(client):
    assert client.get(reverse("history:gallery")).status_code == 302


def test_an_empty_gallery_invites_a_first_video(signed_in):
    response = signed_in.get(reverse("history:gallery"))
    assert b"Make your first video" in response.content
    assert b"hx-get" not in response.content  # nothing to watch


def test_each_status_has_its_overlay(signed_in, user):
    queued = make_task(user=user, status=TaskStatus.QUEUED, queue_position=2).history_item
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS, progress=40, last_log="Rendering frame 48/120 (40%)").history_item
    failed = make_task(user=user, status=TaskStatus.FAILED, error_message="The model could not make this video: boom").history_item
    done = completed_item(user)
    html = signed_in.get(reverse("history:gallery")).content.decode()

    assert "Position 3 in the queue" in card(html, queued)
    assert "Processing · 40%" in card(html, running) and 'value="40"' in card(html, running)
    assert "Rendering frame 48/120" in card(html, running)
    failed_card = card(html, failed)
    assert "The model could not make this video: boom" in failed_card and ">Retry<" in failed_card
    done_card = card(html, done)
    assert f'src="/history/{done.pk}/video/"' in done_card and "<video" in done_card and "download" in done_card
    assert "Retry" not in done_card


def test_newest_first_and_paginated(signed_in, user, settings):
    settings.GALLERY_PAGE_SIZE = 2
    items = [make_task(user=user, status=TaskStatus.FAILED, prompt=f"video {n}").history_item for n in range(3)]
    first = signed_in.get(reverse("history:gallery")).content.decode()
    second = signed_in.get(reverse("history:gallery") + "?page=2").content.decode()
    assert first.index("video 2") < first.index("video 1") and "video 0" not in first
    assert "video 0" in second and "Page 2" in second and "Older" not in second
    # Each card on exactly one page: the two newest first, the oldest on the second.
    on_page = [[f'id="card-{item.pk}"' in page for page in (first, second)] for item in items]
    assert on_page == [[False, True], [True, False], [True, False]]


def test_filters_by_status_and_model(signed_in, user):
    make_task(user=user, status=TaskStatus.FAILED, prompt="a failed one")
    make_task(user=user, status=TaskStatus.QUEUED, prompt="a queued veo", model_key="veo-3.1")
    html = signed_in.get(reverse("history:gallery") + "?status=failed").content.decode()
    assert "a failed one" in html and "a queued veo" not in html
    html = signed_in.get(reverse("history:gallery") + "?model=veo-3.1").content.decode()
    assert "a queued veo" in html and "a failed one" not in html


def test_only_unfinished_cards_are_watched(signed_in, user):
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    completed_item(user)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    poller = re.search(r'<div id="poller"[^>]*>', html).group(0)
    assert f"ids={running.pk}" in poller and 'hx-trigger="every' in poller


def test_updates_swap_cards_in_place_and_stop_when_all_are_finished(signed_in, user):
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS, progress=10).history_item
    url = reverse("history:updates") + f"?ids={running.pk}"
    html = signed_in.get(url).content.decode()
    assert 'hx-swap-oob="true"' in card(html, running) and "hx-trigger" in html

    Task.objects.filter(pk=running.task_id).update(status=TaskStatus.FAILED, error_message="gave up")
    html = signed_in.get(url).content.decode()
    assert "gave up" in card(html, running)
    assert "hx-trigger" not in html  # the poller is replaced by an idle one


def test_another_users_items_are_invisible(signed_in):
    bob_item = completed_item(make_user("bob"), prompt="bob's secret video")
    assert "bob's secret video" not in signed_in.get(reverse("history:gallery")).content.decode()
    assert signed_in.get(reverse("history:detail", args=[bob_item.pk])).status_code == 404
    for action in ("retry", "cancel", "delete"):
        assert signed_in.post(reverse(f"history:{action}", args=[bob_item.pk])).status_code == 404
    assert "bob's secret" not in signed_in.get(reverse("history:updates") + f"?ids={bob_item.pk}").content.decode()
    assert HistoryItem.objects.filter(pk=bob_item.pk).exists()


def test_updates_skip_malformed_ids_and_still_refresh_the_valid_ones(signed_in, user):
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    response = signed_in.get(reverse("history:updates") + f"?ids=zzz,../etc,{running.pk},")
    assert response.status_code == 200
    assert f'id="card-{running.pk}"' in response.content.decode()


def test_detail_shows_the_player_and_settings(signed_in, user):
    item = completed_item(user, prompt="a heron at dusk")
    html = signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    assert "<video" in html and "a heron at dusk" in html and "Regenerate" in html


def test_retry_makes_a_new_attempt_and_keeps_the_old_one(signed_in, user):
    item = make_task(user=user, status=TaskStatus.FAILED, error_message="boom").history_item
    old_task = item.task
    response = signed_in.post(reverse("history:retry", args=[item.pk]))
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.task != old_task and item.task.retried_from == old_task
    assert item.task.status == TaskStatus.PENDING
    assert Task.objects.get(pk=old_task.pk).status == TaskStatus.FAILED
    assert len(queued_tasks("submit_task")) == 1
    # Pressing Retry again on the same (old) attempt does nothing more.
    signed_in.post(reverse("history:retry", args=[item.pk]))
    assert Task.objects.count() == 2


def test_a_running_task_cannot_be_retried(signed_in, user):
    item = make_task(user=user, status=TaskStatus.QUEUED).history_item
    signed_in.post(reverse("history:retry", args=[item.pk]))
    assert Task.objects.count() == 1


def test_cancel_stops_an_unfinished_task(signed_in, user):
    item = make_task(user=user, status=TaskStatus.QUEUED, request_id="r-1").history_item
    signed_in.post(reverse("history:cancel", args=[item.pk]))
    item.task.refresh_from_db()
    assert item.task.status == TaskStatus.CANCELLED
    assert len(queued_tasks("cancel_at_provider")) == 1


def test_delete_removes_the_card_and_its_files(signed_in, user, django_capture_on_commit_callbacks):
    item = completed_item(user)
    names = [item.video.name, item.poster.name]
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("history:delete", args=[item.pk]))
    assert not HistoryItem.objects.filter(pk=item.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_an_unfinished_card_cannot_be_deleted(signed_in, user):
    item = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    signed_in.post(reverse("history:delete", args=[item.pk]))
    assert HistoryItem.objects.filter(pk=item.pk).exists()


def test_the_gallery_costs_the_same_queries_for_few_or_many_cards(signed_in, user, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.GALLERY_PAGE_SIZE = 50

    def queries_for_gallery() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get(reverse("history:gallery")).status_code == 200
        return len(captured)

    for status in (TaskStatus.FAILED, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS):
        make_task(user=user, status=status)
    completed_item(user)
    few = queries_for_gallery()
    for n in range(10):
        make_task(user=user, status=[TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.QUEUED][n % 3])
        completed_item(user, prompt=f"done {n}")
    assert queries_for_gallery() == few

# The gallery groups a job's cards under its progress, keeps a running job at the
# top and on one page, and refreshes the job's header with its cards.


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


def test_a_running_job_comes_first_and_pages_hold_a_fixed_number_of_videos(signed_in, user, settings):
    settings.GALLERY_PAGE_SIZE = 2
    running = job_of(user, prompt="the running one")
    Job.objects.filter(pk=running.pk).update(created_at=timezone.now() - timezone.timedelta(days=2))
    HistoryItem.objects.filter(task__job=running).update(created_at=timezone.now() - timezone.timedelta(days=2))
    for n in range(3):
        make_task(user=user, status=TaskStatus.COMPLETED, prompt=f"newer finished {n}")
    pages = [signed_in.get(reverse("history:gallery") + f"?page={n}").content.decode() for n in (1, 2, 3)]
    assert [page.count('<article class="card') for page in pages] == [2, 2, 2]
    # The running job's three videos come first: two on page 1, the third on page 2
    # under the job's header again.
    assert section(pages[0], running).count('<article class="card') == 2
    assert section(pages[1], running).count('<article class="card') == 1 and "newer finished 2" in pages[1]
    pager = re.search(r'<nav class="pager".*?</nav>', pages[2], re.S).group(0)
    assert "newer finished 0" in pages[2] and "Previous" in pager and "Next" not in pager


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


def test_the_owner_rates_a_finished_video_from_its_detail_page(signed_in, user, other_user):
    item = make_task(user=user, status=TaskStatus.COMPLETED).history_item
    url = reverse("history:rate", args=[item.pk])
    assert "Your rating" in signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()

    response = signed_in.post(url, {"stars": "4", "note": "  lovely light  "}, follow=True)
    assert "Thanks, your rating is saved." in response.content.decode()
    assert (item.rating.stars, item.rating.note) == (4, "lovely light")
    signed_in.post(url, {"stars": "2"})
    item.rating.refresh_from_db()
    assert (item.rating.stars, item.rating.note) == (2, "")  # rating again replaces it

    assert "Choose 1 to 5 stars." in signed_in.post(url, {"stars": "lots"}, follow=True).content.decode()
    assert "1 to 5 stars" in signed_in.post(url, {"stars": "9"}, follow=True).content.decode()
    assert Rating.objects.get(item=item).stars == 2

    signed_in.force_login(other_user)
    assert signed_in.post(url, {"stars": "1"}).status_code == 404  # not theirs to rate


def test_an_unfinished_video_has_no_rating_form_and_cannot_be_rated(signed_in, user):
    item = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    assert "Your rating" not in signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    response = signed_in.post(reverse("history:rate", args=[item.pk]), {"stars": "5"}, follow=True)
    assert "Only a finished video can be rated." in response.content.decode()
    assert not HistoryItem.objects.filter(pk=item.pk, rating__isnull=False).exists()


# Gallery management: search, sort, favourites, bulk actions.


def test_search_finds_prompts_by_their_words(signed_in, user):
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="A red fox running through snow")
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="A blue whale in deep water")
    html = signed_in.get(reverse("history:gallery") + "?q=fox").content.decode()
    assert "red fox" in html and "blue whale" not in html
    assert 'value="fox"' in html  # the box keeps the words
    nothing = signed_in.get(reverse("history:gallery") + "?q=giraffe").content.decode()
    assert "No videos match these filters." in nothing


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_search_on_postgresql_matches_word_forms_not_substrings(signed_in, user):
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="Two foxes running through snow")
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="A firefox logo")
    html = signed_in.get(reverse("history:gallery") + "?q=fox+runs").content.decode()
    assert "Two foxes" in html and "firefox" not in html


def test_sort_oldest_and_best_rated(signed_in, user):
    now = timezone.now()
    made = []
    for n, stars in enumerate((None, 5, 2)):
        item = completed_item(user, prompt=f"sorted {n}")
        HistoryItem.objects.filter(pk=item.pk).update(created_at=now - timezone.timedelta(minutes=10 - n))
        if stars:
            signed_in.post(reverse("history:rate", args=[item.pk]), {"stars": stars})
        made.append(item)
    def order(sort):
        html = signed_in.get(reverse("history:gallery") + f"?sort={sort}").content.decode()
        return sorted(range(3), key=lambda n: html.index(f"sorted {n}"))
    assert order("newest") == [2, 1, 0]
    assert order("oldest") == [0, 1, 2]
    assert order("best") == [1, 2, 0]  # 5 stars, 2 stars, unrated last
    assert order("nonsense") == [2, 1, 0]


def test_a_favourite_is_toggled_on_the_card_and_filtered(signed_in, user):
    liked = completed_item(user, prompt="liked one")
    completed_item(user, prompt="other one")
    url = reverse("history:favourite", args=[liked.pk])
    swapped = signed_in.post(url, {"favourite": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert swapped.startswith("\n<article") or "<article" in swapped
    assert 'aria-pressed="true"' in card(swapped, liked)
    html = signed_in.get(reverse("history:gallery") + "?favourites=1").content.decode()
    assert "liked one" in html and "other one" not in html
    signed_in.post(url, {"favourite": "0"})
    assert not HistoryItem.objects.get(pk=liked.pk).favourite


def test_filters_apply_on_change(signed_in, user):
    make_task(user=user)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert "data-apply-on-change" in html and "js/gallery.js" in html
    script = (settings_root() / "static" / "js" / "gallery.js").read_text()
    assert 'form.addEventListener("change"' in script and "requestSubmit" in script


def settings_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_rating_from_the_card_keeps_the_note(signed_in, user):
    item = completed_item(user)
    signed_in.post(reverse("history:rate", args=[item.pk]), {"stars": "2", "note": "too dark"})
    swapped = signed_in.post(
        reverse("history:rate", args=[item.pk]), {"stars": "4", "keep_note": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert card(swapped, item).count("★") == 4
    assert (Rating.objects.get(item=item).stars, Rating.objects.get(item=item).note) == (4, "too dark")
    gallery = signed_in.get(reverse("history:gallery")).content.decode()
    assert 'class="inline card-stars"' in card(gallery, item)


def test_bulk_delete_and_cancel_from_the_gallery(signed_in, user, other_user, django_capture_on_commit_callbacks):
    done = [completed_item(user, prompt=f"done {n}") for n in range(2)]
    running = make_task(user=user, status=TaskStatus.QUEUED).history_item
    theirs = completed_item(other_user, prompt="theirs")
    ids = [str(item.pk) for item in (*done, running, theirs)]
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("history:bulk"), {"action": "delete", "items": ids}, follow=True)
    page = response.content.decode()
    assert "2 videos deleted." in page and "1 left as it was" in page
    assert set(HistoryItem.objects.values_list("pk", flat=True)) == {running.pk, theirs.pk}
    response = signed_in.post(reverse("history:bulk"), {"action": "cancel", "items": [str(running.pk)]}, follow=True)
    assert "1 video cancelled." in response.content.decode()
    assert Task.objects.get(pk=running.task_id).status == TaskStatus.CANCELLED


def test_bulk_add_to_project_and_nothing_selected(signed_in, user):
    from projects.models import Slot
    from projects.services import create_project

    project = create_project(user=user, name="Picks")
    items = [completed_item(user, prompt=f"pick {n}") for n in range(2)]
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert f'<option value="{project.pk}">Picks</option>' in html and 'form="bulk"' in html
    response = signed_in.post(
        reverse("history:bulk"), {"action": "add", "project": str(project.pk), "items": [str(i.pk) for i in items]}, follow=True
    )
    assert "2 videos added to “Picks”." in response.content.decode()
    assert set(Slot.objects.filter(project=project).values_list("item", flat=True)) == {i.pk for i in items}
    empty = signed_in.post(reverse("history:bulk"), {"action": "delete"}, follow=True)
    assert "Select some videos first." in empty.content.decode()


def test_bulk_download_is_one_streamed_zip(signed_in, user):
    import io
    import zipfile

    items = [completed_item(user, prompt="A kite, high up") for _ in range(2)]
    response = signed_in.post(reverse("history:bulk"), {"action": "zip", "items": [str(i.pk) for i in items]})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip" and "attachment" in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        assert sorted(archive.namelist()) == ["a-kite-high-up-2.mp4", "a-kite-high-up.mp4"]


# Live and told: estimates, retrying, the detail page's panels.


def test_a_processing_card_shows_the_time_left_from_its_models_measured_times(signed_in, user):
    now = timezone.now()
    for seconds in (100, 140):  # this model usually takes 120 s
        done = make_task(user=user, status=TaskStatus.COMPLETED, model_key="kling-3-t2v")
        Task.objects.filter(pk=done.pk).update(
            started_at=now - timezone.timedelta(seconds=seconds + 60), downloading_at=now - timezone.timedelta(seconds=60)
        )
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS, model_key="kling-3-t2v", progress=30)
    Task.objects.filter(pk=running.pk).update(started_at=now - timezone.timedelta(seconds=60))
    other = make_task(user=user, status=TaskStatus.IN_PROGRESS, model_key="veo-3.1")  # nothing measured yet
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert re.search(r"About (59|60|61) seconds left", card(html, running.history_item))
    assert "left" not in card(html, other.history_item)


def test_a_card_whose_submission_is_retried_says_so(signed_in, user, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 5
    retried = make_task(user=user, status=TaskStatus.PENDING, submit_attempts=1)
    fresh = make_task(user=user, status=TaskStatus.PENDING)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert "Retrying, attempt 2 of 5" in card(html, retried.history_item)
    assert "Retrying" not in card(html, fresh.history_item) and "Starting" in card(html, fresh.history_item)


def test_the_detail_page_refreshes_every_panel_and_its_actions(signed_in, user):
    item = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    html = signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    poller = re.search(r'<div id="poller"[^>]*>', html).group(0)
    assert "detail=1" in poller and ">Delete<" not in html
    Task.objects.filter(pk=item.task_id).update(status=TaskStatus.COMPLETED)
    update = signed_in.get(reverse("history:updates") + f"?ids={item.pk}&detail=1").content.decode()
    panel = re.search(r'<section class="panel" id="detail-panel" hx-swap-oob="true">.*?</section>', update, re.S).group(0)
    assert ">Delete<" in panel and "Your rating" in panel
    assert '<div id="detail-pixel-art" hx-swap-oob="true">' in update
    assert "hx-trigger" not in update  # finished: the poller stops


def test_the_detail_page_shows_the_input_and_last_frame_images(signed_in, user):
    from tests.factories import png_upload

    job = start_generation(
        user=user, model_key="kling-2.6-i2v", prompt="a door opens", duration=5, image=png_upload(),
        end_image=png_upload(colour=(5, 5, 5)),
    )
    item = job.tasks.get().history_item
    html = signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    assert f'<img src="/history/{item.pk}/input/"' in html and f'<img src="/history/{item.pk}/last-frame/"' in html
    answer = signed_in.get(reverse("history:end-image", args=[item.pk]))
    assert answer.status_code == 200 and b"".join(answer.streaming_content).startswith(b"\x89PNG")


def test_the_gallery_offers_the_lightbox_toasts_and_hover_play(signed_in, user):
    item = completed_item(user)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert '<dialog id="lightbox"' in html and 'id="toasts"' in html and "data-ask-notifications" in html
    assert "data-lightbox-open" in card(html, item) and f'data-video="/history/{item.pk}/video/"' in card(html, item)


def test_a_submission_being_sent_again_names_its_attempt(signed_in, user, settings):
    settings.SUBMIT_MAX_ATTEMPTS = 4
    sending = make_task(user=user, status=TaskStatus.SUBMITTING, submit_attempts=3)
    first_send = make_task(user=user, status=TaskStatus.SUBMITTING, submit_attempts=1)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert "Retrying, attempt 3 of 4" in card(html, sending.history_item)
    assert "Retrying" not in card(html, first_send.history_item)
