"""The admin's monitoring page: staff only, the period's figures as tables and charts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import ErrorKind, TaskStatus
from tests.factories import make_task

pytestmark = pytest.mark.django_db

PAGE = "/admin/monitoring/"


def test_only_staff_see_it(client, signed_in):
    assert "/admin/login/" in signed_in.get(PAGE)["Location"]


def test_the_page_shows_this_weeks_figures_and_charts(staff):
    now = timezone.now()
    make_task(status=TaskStatus.COMPLETED, submitted_at=now - timedelta(seconds=100), started_at=now - timedelta(seconds=90),
              downloading_at=now - timedelta(seconds=30), finished_at=now - timedelta(seconds=28))
    make_task(status=TaskStatus.FAILED, error_kind=ErrorKind.NETWORK, finished_at=now)
    make_task(status=TaskStatus.COMPLETED, created_at=now - timedelta(days=30), finished_at=now - timedelta(days=30))
    response = staff.get(PAGE)
    page = response.content.decode()
    assert response.status_code == 200
    group = response.context["report"].groups[0]
    assert (group.group, group.requests, group.completed, group.failed) == ("kling", 2, 1, 1)
    assert 'data-model="kling-3-t2v"' in page and "network: 1" in page and "50%" in page
    assert page.count('<svg class="chart"') == 2 and "Videos made per day" in page
    assert len(response.context["report"].days) == 7


def test_a_chosen_period_and_model(staff):
    day = timezone.now() - timedelta(days=40)
    make_task(status=TaskStatus.COMPLETED, created_at=day, finished_at=day)
    make_task(model_key="hailuo-2.3-t2v", created_at=day)
    start = (day - timedelta(days=1)).date().isoformat()
    report = staff.get(PAGE, {"start": start, "end": day.date().isoformat(), "model": "kling-3-t2v"}).context["report"]
    assert [(r.model_key, r.requests) for r in report.models] == [("kling-3-t2v", 1)]
    assert sum(d.videos for d in report.days) == 1


def test_a_backwards_period_is_refused(staff):
    response = staff.get(PAGE, {"start": "2026-03-10", "end": "2026-03-01"})
    assert "ends before it starts" in response.content.decode() and "report" not in response.context


def test_the_admin_links_to_it(staff):
    assert f'href="{PAGE}"' in staff.get("/admin/").content.decode()


def test_the_page_in_korean(staff):
    make_task(status=TaskStatus.FAILED, error_kind=ErrorKind.NETWORK, finished_at=timezone.now())
    page = staff.get(PAGE, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "<th>제공업체 그룹 · 모델</th>" in page and "일별 생성 영상 수" in page and "(모든 모델)" in page
    assert "Success rate" not in page and "Videos made per day" not in page
    refused = staff.get(PAGE, {"start": "2026-03-10", "end": "2026-03-01"}, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "기간의 끝이 시작보다 앞입니다." in refused
