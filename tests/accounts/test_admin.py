"""The users page: tier, balance, today's usage and recent jobs on one page; tier,
credits and suspension changed through audited actions."""

import pytest
from django.urls import reverse

from accounts.models import Account
from audit.models import Action, AuditEntry, Result
from credits.models import EntryKind, LedgerEntry, Tier, Wallet
from generation.models import TaskStatus
from generation.services import start_generation
from tests.factories import fund, make_task, make_user
from tests.support import run_admin_action

pytestmark = pytest.mark.django_db

USERS = "admin:auth_user_changelist"


@pytest.fixture
def ann():
    user = make_user("ann")
    fund(user, 12, tier=Tier.FREE)
    return user


def test_the_list_and_the_user_page_show_tier_balance_usage_and_recent_jobs(staff, ann):
    start_generation(user=ann, model_key="kling-3-t2v", prompt="a heron in the reeds", duration=5, styles=["anime", "noir"])
    make_task(user=ann, status=TaskStatus.FAILED, prompt="a failed one")  # does not count against today's limit
    wallet = Wallet.objects.get(user=ann)
    assert 0 < wallet.balance < 12 and wallet.reserved == 12 - wallet.balance  # two videos hold their price

    listing = staff.get(reverse(USERS)).content.decode()
    row = listing[listing.index(">ann<"):]
    row = row[: row.index("</tr>")]
    assert 'field-tier">Free<' in row and f'field-balance">{wallet.balance}<' in row and 'field-used_today">2<' in row

    page = staff.get(reverse("admin:auth_user_change", args=[ann.pk])).content.decode()
    assert f"Tier <strong>Free</strong> · balance <strong>{wallet.balance}</strong> credits, {wallet.reserved} held" in page
    assert "today <strong>2 of 20</strong> videos" in page
    assert "a heron in the reeds" in page and "a failed one" in page
    assert "pending, pending" in page  # the job's two tasks


def test_staff_change_the_tier_with_a_reason(staff, ann, boss):
    page = run_admin_action(staff, reverse(USERS), "change_tier", [ann], tier=Tier.PRO, reason="bought the pro plan").content.decode()
    assert "Tier Free → Pro." in page
    assert Wallet.objects.get(user=ann).tier == Tier.PRO
    entry = AuditEntry.objects.get(action=Action.SET_TIER)
    assert (entry.actor, entry.target_id, entry.reason, entry.details, entry.result) == (
        boss, str(ann.pk), "bought the pro plan", {"tier": "pro"}, Result.DONE,
    )
    again = run_admin_action(staff, reverse(USERS), "change_tier", [ann], tier=Tier.PRO, reason="twice").content.decode()
    assert "Already on Pro." in again


def test_staff_grant_and_take_credits_through_the_ledger(staff, ann, boss):
    bob = make_user("bob")
    fund(bob, 3)
    page = run_admin_action(
        staff, reverse(USERS), "grant_or_take_credits", [ann, bob], credits=-5, reason="refund reversed"
    ).content.decode()
    assert "-5 credits; balance now 7." in page
    assert "the most that can be taken back" in page
    entry = LedgerEntry.objects.filter(wallet__user=ann, kind=EntryKind.GRANT).first()
    assert (entry.credits, entry.note, entry.created_by) == (-5, "refund reversed", boss)
    assert Wallet.objects.get(user=bob).balance == 3
    results = dict(AuditEntry.objects.filter(action=Action.GRANT_CREDITS).values_list("target_id", "result"))
    assert results == {str(ann.pk): Result.DONE, str(bob.pk): Result.REFUSED}


def test_staff_suspend_and_reinstate_from_the_users_page(staff, ann, boss):
    make_task(user=ann, status=TaskStatus.IN_PROGRESS)
    page = run_admin_action(staff, reverse(USERS), "suspend_selected", [ann], reason="payment dispute").content.decode()
    assert "Suspended: no new videos; 1 under way will finish." in page
    account = Account.objects.get(user=ann)
    assert (account.is_suspended, account.suspended_by, account.suspension_reason) == (True, boss, "payment dispute")
    detail = staff.get(reverse("admin:auth_user_change", args=[ann.pk])).content.decode()
    assert "<strong>suspended</strong>" in detail and "payment dispute" in detail
    assert ">ann<" in staff.get(reverse(USERS) + "?suspended=yes").content.decode()

    run_admin_action(staff, reverse(USERS), "reinstate_selected", [ann], reason="dispute settled")
    assert not Account.objects.get(user=ann).is_suspended
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "reason"))
    assert actions == [(Action.SUSPEND_USER, "payment dispute"), (Action.REINSTATE_USER, "dispute settled")]


def test_an_action_from_the_users_own_page(staff, ann):
    url = reverse("admin:auth_user_change", args=[ann.pk])
    fields = {"CHANGE_FORM-action": "suspend_selected", "_selected_action": [str(ann.pk)]}
    asked = staff.post(url, fields)
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    done = staff.post(url, {**fields, "apply": "yes", "reason": "spam"}, follow=True)
    assert "Suspended" in done.content.decode()
    assert Account.objects.get(user=ann).is_suspended


def test_an_action_without_a_reason_does_nothing(staff, ann):
    response = staff.post(reverse(USERS), {"action": "suspend_selected", "_selected_action": [ann.pk], "apply": "yes", "reason": ""})
    assert response.status_code == 200 and "Say why" in response.content.decode()
    assert not Account.objects.filter(user=ann).exists() and not AuditEntry.objects.exists()
