"""The gallery, the detail page, the Generate page and projects in Korean: a browser
asking for Korean reads Korean labels, overlays, errors and counts; Korean prompts are
kept as written and found by a Korean word."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from generation.models import TaskStatus
from projects.models import Project
from tests.factories import make_task

pytestmark = pytest.mark.django_db

KO = {"HTTP_ACCEPT_LANGUAGE": "ko"}


def page(client, url, **extra) -> str:
    response = client.get(url, **KO, **extra)
    assert response.status_code == 200
    return response.content.decode()


def test_card_overlays_are_korean(signed_in, user):
    make_task(user=user, status=TaskStatus.QUEUED, queue_position=2, prompt="queued fox")
    make_task(user=user, status=TaskStatus.DOWNLOADING, prompt="saving fox")
    make_task(user=user, status=TaskStatus.CANCELLED, prompt="cancelled fox")
    html = page(signed_in, reverse("history:gallery"))
    assert "대기열 3번째" in html  # "Position 3 in the queue"
    assert "영상이 완성되었습니다. 기록에 저장하는 중…" in html
    assert ">취소됨<" in html
    assert "Queued" not in html and "Saving" not in html
    # The toolbar: search, status filter (the model's status labels), sort.
    assert "프롬프트 검색" in html and "모든 상태" in html and ">최신순<" in html and ">완료<" in html


def test_a_retried_submission_says_which_attempt_in_korean(signed_in, user):
    make_task(user=user, status=TaskStatus.PENDING, submit_attempts=1)
    html = page(signed_in, reverse("history:gallery"))
    assert f"재시도 중, {settings.SUBMIT_MAX_ATTEMPTS}번 중 2번째 시도" in html


def test_the_same_page_stays_english_without_korean(signed_in, user):
    make_task(user=user, status=TaskStatus.QUEUED, queue_position=0)
    html = signed_in.get(reverse("history:gallery")).content.decode()
    assert "Position 1 in the queue" in html and "대기열" not in html


def test_generate_page_labels_durations_and_form_errors_in_korean(signed_in):
    html = page(signed_in, reverse("generation:generate"))
    assert ">프롬프트<" in html and ">화면 비율<" in html and "생성하기" in html
    assert re.search(r"<option value=\"5\"[^>]*>5초</option>", html)  # "5 seconds"
    response = signed_in.post(reverse("generation:generate"), {"prompt": "   ", "model": "kling-3-t2v"}, **KO)
    assert "원하는 영상을 설명해 주세요." in response.content.decode()  # "Describe the video you want."


def test_plan_summary_counts_in_korean(signed_in):
    url = reverse("generation:plan") + "?model=kling-3-t2v&styles=anime&styles=noir&aspect_ratios=16:9&mode=single"
    html = page(signed_in, url)
    assert "스타일 2개 × 화면 비율 1개 = 영상 2개 · 2크레딧" in html


def test_a_korean_prompt_is_kept_and_its_length_counts_characters(signed_in):
    prompt = "가" * 1000  # 3000 bytes in UTF-8, 1000 characters: allowed
    response = signed_in.post(reverse("generation:generate"), {"prompt": prompt, "model": "kling-3-t2v"}, **KO)
    assert response.status_code == 302
    from generation.models import Job

    assert Job.objects.get().prompt == prompt
    response = signed_in.post(reverse("generation:generate"), {"prompt": prompt + "나", "model": "kling-3-t2v"}, **KO)
    assert "프롬프트는 1000자 이내로 작성하세요(현재 1001자)." in response.content.decode()


def test_a_korean_prompt_is_found_by_a_korean_word(signed_in, user):
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="새벽에 눈 속을 달리는 붉은 여우가 있다")
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="깊은 바다의 푸른 고래")
    html = page(signed_in, reverse("history:gallery") + "?q=여우")
    assert "붉은 여우가" in html and "푸른 고래" not in html
    html = page(signed_in, reverse("history:gallery") + "?q=붉은+여우")
    assert "붉은 여우가" in html
    html = page(signed_in, reverse("history:gallery") + "?q=고양이")
    assert "붉은 여우가" not in html and "이 필터에 맞는 영상이 없습니다." in html


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_english_search_still_stems_next_to_korean(signed_in, user):
    make_task(user=user, status=TaskStatus.COMPLETED, prompt="Two foxes running 눈 속을")
    html = signed_in.get(reverse("history:gallery") + "?q=fox+runs+눈").content.decode()
    assert "Two foxes" in html


def test_projects_pages_count_in_korean(signed_in, user):
    project = Project.objects.create(user=user, name="여름 광고")
    html = page(signed_in, reverse("projects:list"))
    assert "여름 광고" in html and "내 프로젝트" in html and "영상 0개" in html
    html = page(signed_in, project.get_absolute_url())
    assert "이 프로젝트에 생성하기" in html


def test_the_daily_limit_on_the_generate_page_names_the_time_zone_in_both_languages(signed_in, user, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 1, "pro": 1}
    make_task(user=user, status=TaskStatus.COMPLETED)  # today's one video
    data = {"prompt": "a fox", "model": "kling-3-t2v"}
    english = signed_in.post(reverse("generation:generate"), data).content.decode()
    assert "You have reached today&#x27;s limit of 1 video" in english and f"midnight ({settings.TIME_ZONE})" in english
    korean = signed_in.post(reverse("generation:generate"), data, **KO).content.decode()
    assert "일일 한도" in korean and f"자정({settings.TIME_ZONE})" in korean
