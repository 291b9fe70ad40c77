"""Videos, posters and input images are private: only their owner (and staff) get
them, through a view that checks first; local files stream with Range support or are
handed to the web server; files in object storage (a real S3-compatible server, moto,
started by these tests) are reached through short-lived signed URLs."""

import hashlib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from api.services import token_for
from generation.downloads import download_result
from generation.models import Job, TaskStatus
from generation.services import start_generation
from history.models import HistoryItem
from history.services import delete_history_item
from tests.factories import fund, make_task, make_user
from tests.support import finished_at_sandbox
from videoplanet.private_media import download_name

pytestmark = pytest.mark.django_db

VIDEO = bytes(range(256)) * 40  # 10 240 bytes, every offset distinguishable


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def stranger_client():
    client = Client()
    client.force_login(make_user("stranger"))
    return client


def completed_item(user, prompt="A red fox, running at dawn!") -> HistoryItem:
    task = make_task(user=user, status=TaskStatus.COMPLETED, prompt=prompt)
    item = task.history_item
    item.video.save(f"videos/{task.pk}.mp4", ContentFile(VIDEO), save=False)
    item.poster.save(f"posters/{task.pk}.jpg", ContentFile(b"\xff\xd8\xff poster"), save=False)
    item.save()
    return item


def media_url(item, kind="video") -> str:
    return f"/history/{item.pk}/{kind}/"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- who may see a file -------------------------------------------------------


def test_the_owner_gets_the_video_named_after_the_prompt(owner_client, owner):
    item = completed_item(owner)
    response = owner_client.get(media_url(item))
    assert response.status_code == 200 and body(response) == VIDEO
    assert response["Content-Type"] == "video/mp4" and response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'inline; filename="a-red-fox-running-at-dawn.mp4"'
    assert "private" in response["Cache-Control"]
    download = owner_client.get(media_url(item) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_another_user_gets_404_for_every_kind_of_file(stranger_client, owner):
    item = completed_item(owner)
    for kind in ("video", "poster", "input"):
        assert stranger_client.get(media_url(item, kind)).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in_and_gets_no_bytes(client, owner):
    item = completed_item(owner)
    response = client.get(media_url(item))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_staff_may_see_any_users_files(client, owner):
    item = completed_item(owner)
    client.force_login(make_user("admin", is_staff=True))
    assert body(client.get(media_url(item, "poster"))).startswith(b"\xff\xd8\xff")


def test_the_api_gives_media_links_that_work_with_the_token_only(owner):
    item = completed_item(owner)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=owner)}")
    result = api.get(f"/api/tasks/{item.task_id}/").json()["result"]
    assert urlsplit(result["video_url"]).path == media_url(item)
    assert urlsplit(result["poster_url"]).path == media_url(item, "poster")
    assert body(api.get(urlsplit(result["video_url"]).path)) == VIDEO
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=make_user())}")
    assert stranger.get(urlsplit(result["video_url"]).path).status_code == 404
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad.get(urlsplit(result["video_url"]).path).status_code == 401


def test_media_is_no_longer_public_under_media(client, owner_client, owner):
    item = completed_item(owner)
    assert client.get(f"/media/{item.video.name}").status_code == 404
    assert owner_client.get(f"/media/{item.video.name}").status_code == 404


def test_pages_link_to_the_checked_view_not_to_the_file(owner_client, owner):
    item = completed_item(owner)
    html = owner_client.get("/history/").content.decode()
    assert media_url(item) in html and media_url(item, "poster") in html
    assert item.video.name not in html and "/media/" not in html


# --- input images ---------------------------------------------------------------


def png_upload(name="my holiday photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (10, 120, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_an_input_image_is_stored_under_a_random_name_and_served_only_to_its_owner(owner_client, stranger_client, owner):
    fund(owner, 10)
    job = start_generation(user=owner, model_key="kling-2.1-i2v", prompt="the photo comes alive", duration=5, image=png_upload())
    item = HistoryItem.objects.get(task__job=job)
    assert "holiday" not in job.input_image.name and re.fullmatch(r"inputs/[0-9a-f]{32}\.png", job.input_image.name)
    response = owner_client.get(media_url(item, "input"))
    assert response.status_code == 200 and body(response).startswith(b"\x89PNG")
    assert response["Content-Disposition"] == 'inline; filename="the-photo-comes-alive-input.png"'
    assert stranger_client.get(media_url(item, "input")).status_code == 404


def test_the_input_image_goes_with_the_last_card_of_its_job(owner, django_capture_on_commit_callbacks):
    fund(owner, 10)
    job = start_generation(
        user=owner, model_key="kling-2.1-i2v", prompt="two takes", duration=5, image=png_upload(), mode="batch", count=2
    )
    storage, name = job.input_image.storage, job.input_image.name
    first, second = HistoryItem.objects.filter(task__job=job)
    for item in (first, second):
        item.task.status = TaskStatus.FAILED
        item.task.save()
    with django_capture_on_commit_callbacks(execute=True):
        delete_history_item(item=HistoryItem.objects.get(pk=first.pk))
    assert storage.exists(name)  # the other card may still be retried with it
    with django_capture_on_commit_callbacks(execute=True):
        delete_history_item(item=HistoryItem.objects.get(pk=second.pk))
    assert not storage.exists(name)
    assert Job.objects.get(pk=job.pk).input_image.name == ""


def test_deleting_a_card_removes_its_video_and_poster(owner, django_capture_on_commit_callbacks):
    item = completed_item(owner)
    storage, names = item.video.storage, [item.video.name, item.poster.name]
    with django_capture_on_commit_callbacks(execute=True):
        delete_history_item(item=item)
    assert not any(storage.exists(name) for name in names)


# --- Range requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-99", 0, 100), ("bytes=10000-", 10000, 10240), ("bytes=-40", 10200, 10240), ("bytes=5000-999999", 5000, 10240)],
)
def test_a_range_request_gets_206_with_exactly_those_bytes(owner_client, owner, header, start, stop):
    item = completed_item(owner)
    response = owner_client.get(media_url(item), headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{stop - 1}/{len(VIDEO)}"
    assert int(response["Content-Length"]) == stop - start
    assert body(response) == VIDEO[start:stop]


def test_a_range_past_the_end_is_416(owner_client, owner):
    item = completed_item(owner)
    response = owner_client.get(media_url(item), headers={"Range": "bytes=20000-"})
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{len(VIDEO)}"


@pytest.mark.parametrize("header", ["bytes=abc", "items=0-5", "bytes=0-1,5-6", "bytes=9-3"])
def test_malformed_or_multiple_ranges_get_the_whole_file(owner_client, owner, header):
    item = completed_item(owner)
    response = owner_client.get(media_url(item), headers={"Range": header})
    assert response.status_code == 200 and body(response) == VIDEO


@pytest.mark.django_db(transaction=True)
def test_ranges_over_real_http_let_a_player_seek(live_server):
    owner = make_user("seeker")
    item = completed_item(owner)
    login = Client()
    login.force_login(owner)
    cookies = {"sessionid": login.cookies["sessionid"].value}
    answer = requests.get(f"{live_server.url}{media_url(item)}", headers={"Range": "bytes=1024-2047"}, cookies=cookies, timeout=10)
    assert answer.status_code == 206 and answer.content == VIDEO[1024:2048]
    assert answer.headers["Content-Range"] == f"bytes 1024-2047/{len(VIDEO)}"


# --- handing the file to the web server ---------------------------------------


def test_with_x_accel_redirect_nginx_sends_the_file(owner_client, owner, settings):
    settings.MEDIA_X_ACCEL_REDIRECT = "/_protected_media/"
    item = completed_item(owner)
    response = owner_client.get(media_url(item))
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_protected_media/{item.video.name}"
    assert response["Content-Disposition"] == 'inline; filename="a-red-fox-running-at-dawn.mp4"'


def test_with_x_sendfile_the_server_gets_the_path(owner_client, owner, settings):
    settings.MEDIA_X_SENDFILE = True
    item = completed_item(owner)
    response = owner_client.get(media_url(item))
    assert response["X-Sendfile"] == item.video.path and response.content == b""


def test_download_names_come_from_the_prompt():
    assert download_name("Ein Fuchs läuft durch den Schnee", suffix=".mp4") == "ein-fuchs-lauft-durch-den-schnee.mp4"
    assert download_name("!!!", suffix=".mp4") == "video.mp4"
    assert download_name("x" * 300, suffix=".mp4") == "x" * 60 + ".mp4"


# --- object storage (S3 API, moto server) ---------------------------------------


def test_with_object_storage_the_owner_is_sent_to_a_short_lived_signed_url(s3_storage, owner_client, stranger_client, client, owner):
    item = completed_item(owner)
    assert s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=item.video.name)["ContentLength"] == len(VIDEO)
    response = owner_client.get(media_url(item))
    assert response.status_code == 302 and "no-store" in response["Cache-Control"]
    location = response["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(s3_storage.endpoint)
    assert query["X-Amz-Expires"] == ["60"] and query["X-Amz-Signature"][0]
    assert query["response-content-disposition"] == ['inline; filename="a-red-fox-running-at-dawn.mp4"']
    fetched = requests.get(location, timeout=10)
    assert fetched.status_code == 200 and fetched.content == VIDEO
    assert fetched.headers["Content-Disposition"] == 'inline; filename="a-red-fox-running-at-dawn.mp4"'
    # Nobody else is ever handed a URL.
    assert stranger_client.get(media_url(item)).status_code == 404
    assert client.get(media_url(item))["Location"].startswith("/accounts/login/")


def test_with_object_storage_the_objects_are_not_public(s3_storage, owner):
    item = completed_item(owner)
    grants = s3_storage.client.get_object_acl(Bucket=s3_storage.bucket, Key=item.video.name)["Grants"]
    assert [g["Grantee"].get("URI") for g in grants if g["Grantee"].get("Type") == "Group"] == []


def test_with_object_storage_deleting_a_card_deletes_the_objects(s3_storage, owner, django_capture_on_commit_callbacks):
    item = completed_item(owner)
    keys = [item.video.name, item.poster.name]
    with django_capture_on_commit_callbacks(execute=True):
        delete_history_item(item=item)
    listed = s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket).get("Contents", [])
    assert not {obj["Key"] for obj in listed} & set(keys)


def test_the_admin_links_files_through_the_checked_view(client, owner):
    fund(owner, 10)
    job = start_generation(user=owner, model_key="kling-2.1-i2v", prompt="admin look", duration=5, image=png_upload())
    item = HistoryItem.objects.get(task__job=job)
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    job_page = client.get(f"/admin/generation/job/{job.pk}/change/").content.decode()
    assert media_url(item, "input") in job_page and "/media/" not in job_page
    done = completed_item(owner)
    item_page = client.get(f"/admin/history/historyitem/{done.pk}/change/").content.decode()
    assert media_url(done) in item_page and media_url(done, "poster") in item_page and "/media/" not in item_page


def test_both_input_images_go_with_the_last_card_of_their_job(owner, django_capture_on_commit_callbacks):
    fund(owner, 10)
    job = start_generation(
        user=owner, model_key="kling-2.6-i2v", prompt="from here to there", duration=5,
        image=png_upload("first.png"), end_image=png_upload("last.png"),
    )
    storage, names = job.input_image.storage, [job.input_image.name, job.input_end_image.name]
    assert all(re.fullmatch(r"inputs/[0-9a-f]{32}\.png", name) for name in names)
    item = HistoryItem.objects.get(task__job=job)
    item.task.status = TaskStatus.FAILED
    item.task.save()
    with django_capture_on_commit_callbacks(execute=True):
        delete_history_item(item=HistoryItem.objects.get(pk=item.pk))
    assert not any(storage.exists(name) for name in names)


@pytest.mark.parametrize("how", ["job", "user"])
def test_input_images_go_with_their_job_however_it_is_deleted(owner, django_capture_on_commit_callbacks, how):
    # The admin deletes a job, or a whole account, without the gallery's service.
    fund(owner, 10)
    job = start_generation(
        user=owner, model_key="kling-2.6-i2v", prompt="from here to there", duration=5,
        image=png_upload("first.png"), end_image=png_upload("last.png"),
    )
    storage, names = job.input_image.storage, [job.input_image.name, job.input_end_image.name]
    with django_capture_on_commit_callbacks(execute=True):
        (job if how == "job" else owner).delete()
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not any(storage.exists(name) for name in names)


@pytest.mark.parametrize("how", ["job", "user"])
def test_a_cards_video_and_poster_go_with_it_however_it_is_deleted(owner, django_capture_on_commit_callbacks, how):
    item = completed_item(owner)
    storage, names = item.video.storage, [item.video.name, item.poster.name]
    assert all(storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        (item.task.job if how == "job" else owner).delete()
    assert not HistoryItem.objects.filter(pk=item.pk).exists()
    assert not any(storage.exists(name) for name in names)


def test_with_object_storage_a_downloaded_video_is_streamed_up_whole(s3_storage, sandbox, settings, tmp_path):
    # The download step against the S3 API: the object is the fetched file, byte for
    # byte, and the temporary file is gone once it is up.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    task = finished_at_sandbox(sandbox)
    download_result(task_id=task.pk)
    item = HistoryItem.objects.get(task=task)
    assert item.task.status == TaskStatus.COMPLETED
    stored = s3_storage.client.get_object(Bucket=s3_storage.bucket, Key=item.video.name)["Body"].read()
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (item.size_bytes, item.sha256)
    poster = s3_storage.client.get_object(Bucket=s3_storage.bucket, Key=item.poster.name)["Body"].read()
    assert poster[:3] == b"\xff\xd8\xff"
    assert list(tmp_path.iterdir()) == []
