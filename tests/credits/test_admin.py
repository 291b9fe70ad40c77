"""Staff see wallets and the ledger, and grant credits, in the admin."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits.models import EntryKind, LedgerEntry, ProviderCost, Tier, Wallet
from generation.models import TaskStatus
from generation.transitions import transition_task
from tests.factories import fund, make_task, make_user
from tests.support import run_admin_action

pytestmark = pytest.mark.django_db


def test_staff_grant_credits_to_several_users_with_a_note(staff):
    ann, ben = make_user("ann"), make_user("ben")
    fund(ann, 0)
    response = staff.post(reverse("admin:credits_wallet_grant"), {"users": [ann.pk, ben.pk], "credits": 15, "note": "launch gift"})
    assert response.status_code == 302
    assert Wallet.objects.get(user=ann).balance == 15
    assert Wallet.objects.get(user=ben).balance == 10 + 15  # welcome credits, then the gift
    entry = LedgerEntry.objects.filter(wallet__user=ann, kind=EntryKind.GRANT).first()
    assert (entry.note, entry.created_by.username) == ("launch gift", "boss")


def test_a_take_back_below_zero_is_refused_with_a_message(staff):
    ann = make_user("ann")
    fund(ann, 3)
    response = staff.post(
        reverse("admin:credits_wallet_grant"), {"users": [ann.pk], "credits": -5, "note": "oops"}, follow=True
    )
    assert "the most that can be taken back" in response.content.decode()
    assert Wallet.objects.get(user=ann).balance == 3


def test_a_zero_grant_is_a_form_error(staff):
    ann = make_user("ann")
    response = staff.post(reverse("admin:credits_wallet_grant"), {"users": [ann.pk], "credits": 0, "note": "x"})
    assert response.status_code == 200 and "at least one credit" in response.content.decode()


def test_the_grant_action_preselects_the_wallets(staff):
    wallet = fund(make_user("ann"), 1)
    response = staff.post(
        reverse("admin:credits_wallet_changelist"), {"action": "grant_to_selected", "_selected_action": [wallet.pk]}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?users={wallet.user_id}")
    page = staff.get(response["Location"]).content.decode()
    assert f'<option value="{wallet.user_id}" selected>' in page


def test_wallet_and_ledger_pages_render_and_the_ledger_is_read_only(staff):
    wallet = fund(make_user("ann"), 4)
    assert "yes" in staff.get(reverse("admin:credits_wallet_changelist")).content.decode()  # ledger agrees
    assert staff.get(reverse("admin:credits_wallet_change", args=[wallet.pk])).status_code == 200
    entry = LedgerEntry.objects.first()
    assert staff.get(reverse("admin:credits_ledgerentry_changelist")).status_code == 200
    assert staff.post(reverse("admin:credits_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()
    assert staff.get(reverse("admin:credits_providercost_changelist")).status_code == 200


def test_the_demo_account_is_pro_with_enough_credits_every_time(settings):
    settings.FAL_USE_SANDBOX = True
    call_command("ensure_demo_account")
    wallet = Wallet.objects.get(user__username="demo")
    assert (wallet.tier, wallet.balance) == (Tier.PRO, 500)
    call_command("ensure_demo_account")
    assert Wallet.objects.get(user__username="demo").balance == 500
    assert LedgerEntry.objects.filter(wallet=wallet, kind=EntryKind.GRANT).count() == 2  # welcome + top-up


def test_an_admin_retry_the_users_credits_cannot_pay_is_skipped_with_the_reason(staff):
    from generation.models import Task, TaskStatus
    from tests.factories import make_task

    ann = make_user("ann")
    task = make_task(user=ann, status=TaskStatus.FAILED)
    fund(ann, 0)
    response = run_admin_action(staff, reverse("admin:generation_task_changelist"), "retry_selected", [task], reason="user asked")
    html = response.content.decode()
    assert "Not retried: Not enough credits" in html
    assert Task.objects.count() == 1


def test_the_job_admin_cancels_a_whole_job(staff):
    from generation.models import TaskStatus
    from generation.services import start_generation

    ann = make_user("ann")
    job = start_generation(user=ann, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"])
    response = run_admin_action(staff, reverse("admin:generation_job_changelist"), "cancel_selected_jobs", [job], reason="stuck")
    assert "Cancelled 2 videos and returned 2 credits" in response.content.decode()
    assert set(job.tasks.values_list("status", flat=True)) == {TaskStatus.CANCELLED}


def test_the_provider_costs_page_shows_spend_by_model(staff):
    for model_key, status, kind in (("veo-3.1", TaskStatus.COMPLETED, ""), ("veo-3.1", TaskStatus.FAILED, "validation"),
                                    ("luma-ray-2", TaskStatus.COMPLETED, "")):
        task = make_task(model_key=model_key, status=TaskStatus.DOWNLOADING if status == TaskStatus.COMPLETED else TaskStatus.IN_PROGRESS,
                         request_id="req")
        fields = {"error_kind": kind, "error_message": "refused"} if kind else {}
        transition_task(task.pk, status, **fields)
    assert ProviderCost.objects.count() == 3
    page = staff.get(reverse("admin:credits_providercost_changelist")).content.decode()
    assert "What fal billed, by model" in page
    veo = ProviderCost.objects.filter(model_key="veo-3.1")
    total = sum(cost.amount_usd for cost in ProviderCost.objects.all())
    assert "<td>veo-3.1</td><td>2</td><td>1</td>" in page
    assert f"<th>${total}</th>" in page and total > Decimal(0)
    assert sum(cost.amount_usd for cost in veo) == Decimal("6.40")  # 8 s at 720p with sound, twice


def test_a_grant_in_korean_is_reported_in_korean_and_logged_in_english(staff):
    from audit.models import AuditEntry

    ann = make_user("ann")
    fund(ann, 3)
    form = staff.get(reverse("admin:credits_wallet_grant"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "크레딧 지급" in form and "사유: 사용자의 크레딧 내역에 표시됩니다." in form
    page = staff.post(
        reverse("admin:credits_wallet_grant"), {"users": [ann.pk], "credits": 1200, "note": "출시 기념"}, follow=True,
        HTTP_ACCEPT_LANGUAGE="ko",
    ).content.decode()
    assert "+1200 크레딧. 현재 잔액 1203." in page
    refused = staff.post(
        reverse("admin:credits_wallet_grant"), {"users": [ann.pk], "credits": -5000, "note": "oops"}, follow=True,
        HTTP_ACCEPT_LANGUAGE="ko",
    ).content.decode()
    assert "ann의 잔액은 1203 크레딧이며, 그 이상은 회수할 수 없습니다." in refused
    assert list(AuditEntry.objects.order_by("created_at").values_list("message", flat=True)) == [
        "+1200 credits; balance now 1203.",
        "ann has 1203 credit(s); that is the most that can be taken back.",
    ]
