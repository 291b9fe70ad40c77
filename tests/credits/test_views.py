"""The Credits page: the signed-in user's own ledger, newest first, a page at a time,
with their balance and plan."""

import pytest

from credits.models import LedgerEntry
from credits.services import grant_credits, reserve_for_tasks
from generation.models import TaskStatus
from generation.transitions import transition_task
from credits.views import LEDGER_PAGE_SIZE
from tests.factories import fund, make_task

pytestmark = pytest.mark.django_db


def test_the_page_shows_balance_plan_and_the_users_own_entries_newest_first(signed_in, user, other_user):
    grant_credits(user=user, credits=3, note="first gift")
    grant_credits(user=user, credits=4, note="second gift")
    grant_credits(user=other_user, credits=9, note="frank's gift")
    page = signed_in.get("/credits/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "You have <strong>57</strong> credits" in html and "Plan: Free" in html
    assert html.index("second gift") < html.index("first gift")
    assert "frank's gift" not in html
    assert [entry.note for entry in page.context["page"].object_list][:2] == ["second gift", "first gift"]


def test_a_video_shows_as_held_then_given_back_with_its_prompt(signed_in, user):
    task = make_task(user=user, prompt="a heron at dusk")
    reserve_for_tasks(user=user, tasks=[task])
    transition_task(task.pk, TaskStatus.CANCELLED)
    html = signed_in.get("/credits/").content.decode()
    assert "Held for a video" in html and "Given back (failed or cancelled)" in html
    assert "a heron at dusk" in html


def test_the_ledger_is_paged(signed_in, user):
    for n in range(LEDGER_PAGE_SIZE + 2):
        grant_credits(user=user, credits=1, note=f"gift {n}")
    total = LedgerEntry.objects.filter(wallet__user=user).count()
    first = signed_in.get("/credits/")
    assert len(first.context["page"].object_list) == LEDGER_PAGE_SIZE
    assert 'rel="next"' in first.content.decode()
    second = signed_in.get("/credits/?page=2")
    assert len(second.context["page"].object_list) == total - LEDGER_PAGE_SIZE
    assert list(second.context["page"].object_list)[-1].note in ("test funds", "Welcome credits")
    # Junk page numbers show a page, not an error.
    assert signed_in.get("/credits/?page=abc").status_code == 200
    assert signed_in.get("/credits/?page=999").status_code == 200


def test_visitors_are_sent_to_log_in(client):
    answer = client.get("/credits/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_the_header_shows_balance_and_plan_on_every_page(signed_in, user):
    fund(user, 12, tier="pro")
    for url in ("/history/", "/generate/", "/credits/", "/accounts/password/change/"):
        html = signed_in.get(url).content.decode()
        assert 'class="header-credits"' in html, url
        assert "12 credits" in html and "Pro" in html, url


def test_the_page_in_korean_translates_what_the_system_wrote_and_keeps_what_staff_typed(signed_in, user, boss):
    grant_credits(user=user, credits=1200, note="for the launch", granted_by=boss)
    task = make_task(user=user, prompt="a heron at dusk")
    reserve_for_tasks(user=user, tasks=[task])
    balance = user.wallet.__class__.objects.get(user=user).balance
    assert balance > 999
    html = signed_in.get("/credits/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert f"잔액: <strong>{balance:,}</strong> 크레딧" in html and "요금제: 무료" in html
    assert "영상 생성용으로 보류" in html and "지급됨" in html and "이후 잔액" in html
    # The welcome grant's note is the system's, kept in English and shown in Korean; a
    # note staff typed is shown as typed.
    assert "가입 환영 크레딧" in html and "Welcome credits" not in html
    assert "for the launch" in html
    assert "Held for a video" not in html and "Balance after" not in html

    english = signed_in.get("/credits/").content.decode()
    assert f"You have <strong>{balance:,}</strong> credits" in english and "Welcome credits" in english
