"""A failure's reason is stored in English (for staff) and in parts, and the card says
it in the reader's language: fal's reasons field by field, a fallback's models, a
submission given up after its attempts."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from generation.fal_errors import model_failure_message, read_answer
from generation.models import ErrorKind, Task, TaskStatus
from generation.said import said_list, text_of
from generation.services import apply_provider_outcome, cancel_task, fail_task
from tests.factories import make_task

pytestmark = pytest.mark.django_db

TWO_FIELDS_422 = {
    "detail": [
        {"loc": ["body", "aspect_ratio"], "msg": "Input should be '16:9' or '9:16'", "type": "literal_error",
         "ctx": {"expected": "'16:9' or '9:16'"}},
        {"loc": ["body", "duration"], "msg": "too long", "type": "less_than_equal", "ctx": {"le": 10}},
    ]
}


def failed(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


def test_a_model_refusal_is_english_for_staff_and_korean_on_the_card(signed_in, user):
    task = make_task(user=user, status=TaskStatus.IN_PROGRESS, request_id="req-1")
    apply_provider_outcome(task=task, request_id="req-1", status="ERROR", payload=TWO_FIELDS_422, error="Invalid status code: 422")
    task = failed(task)
    assert task.status == TaskStatus.FAILED
    assert task.error_message == (
        "The model refused these settings. Aspect ratio: must be one of 16:9, 9:16; Duration: must be at most 10."
    )
    with translation.override("ko"):
        assert task.error_text == (
            "모델이 이 설정을 거부했습니다. Aspect ratio: 16:9, 9:16 중 하나여야 합니다; Duration: 10 이하여야 합니다."
        )
    html = signed_in.get(reverse("history:gallery"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "모델이 이 설정을 거부했습니다." in html and ">실패<" in html
    english = signed_in.get(reverse("history:gallery")).content.decode()
    assert "The model refused these settings." in english


def test_plain_messages_are_translated_when_shown(user):
    task = make_task(user=user, status=TaskStatus.QUEUED)
    cancel_task(task=task)
    task = failed(task)
    assert task.error_message == "Cancelled."
    with translation.override("ko"):
        assert task.error_text == "취소했습니다."
    other = make_task(user=user, status=TaskStatus.QUEUED)
    fail_task(task_id=other.pk, kind=ErrorKind.TIMEOUT, message="This video took too long and was stopped.")
    with translation.override("ko"):
        assert failed(other).error_text == "영상 생성이 너무 오래 걸려 중지했습니다."


def test_a_message_stored_before_its_parts_is_shown_as_stored(user):
    task = make_task(user=user, status=TaskStatus.FAILED, error_message="An old reason.")
    with translation.override("ko"):
        assert task.error_text == "An old reason."
    assert text_of({"msgid": ""}, "") == ""  # never the catalog's header
    # A fixed message of ours stored without its parts is still found by its words.
    Task.objects.filter(pk=task.pk).update(error_message="Something went wrong on our side. Please try again.")
    with translation.override("ko"):
        assert failed(task).error_text == "저희 쪽에서 문제가 발생했습니다. 다시 시도해 주세요."


def test_failure_reasons_read_again_in_the_active_language():
    failure = read_answer(status_code=422, body={"detail": [{"loc": ["body", "prompt"], "type": "missing"}]})
    message = model_failure_message(failure)
    assert message == "The model refused these settings. Prompt: is required."
    with translation.override("ko"):
        assert message.translated() == "모델이 이 설정을 거부했습니다. Prompt: 필수 항목입니다."
    unknown = read_answer(status_code=500, body={"detail": "Internal server error at the runner"})
    with translation.override("ko"):
        # fal's own words stay as fal wrote them, inside our sentence.
        assert model_failure_message(unknown).translated() == "모델이 이 영상을 만들지 못했습니다: Internal server error at the runner."
    assert str(said_list(["a", "b"])) == "a; b"


def test_a_fallback_names_both_models_in_the_readers_language(user):
    from generation.said import model_named, said
    from django.utils.translation import gettext_noop

    message = said(
        gettext_noop("%(model)s was unavailable; made with %(fallback)s instead."),
        model=model_named("kling-3-t2v"), fallback=model_named("veo-3.1"),
    )
    assert message == "Kling 3 Standard · text to video was unavailable; made with Veo 3.1 · text to video instead."
    with translation.override("ko"):
        assert message.translated() == (
            "Kling 3 Standard · 텍스트로 영상을(를) 사용할 수 없어 대신 Veo 3.1 · 텍스트로 영상(으)로 만들었습니다."
        )


def test_a_jobs_progress_is_counted_in_korean(signed_in, user):
    from generation.selectors import JobProgress

    progress = JobProgress(total=6, completed=3, failed=1, cancelled=0)
    assert progress.label == "3 of 6 done, 1 failed"
    with translation.override("ko"):
        assert progress.label == "6개 중 3개 완료, 1개 실패"
