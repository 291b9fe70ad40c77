"""The audit log records every staff action, even one that crashes, and is read-only."""

import pytest
from django.urls import reverse

from audit.models import Action, AuditEntry, Result
from audit.services import Outcome, ReasonRequired, finish_staff_action, perform_staff_action

pytestmark = pytest.mark.django_db


def test_an_action_needs_a_reason_and_runs_nothing_without_one(boss):
    ran = []
    with pytest.raises(ReasonRequired):
        perform_staff_action(actor=boss, action=Action.SUSPEND_USER, target=boss, reason="  ", run=ran.append)
    assert ran == [] and not AuditEntry.objects.exists()


def test_a_crashing_action_is_recorded_as_failed(boss):
    def crash(entry):
        raise RuntimeError("disk full")

    entry = perform_staff_action(actor=boss, action=Action.SUSPEND_USER, target=boss, reason="test", run=crash)
    entry.refresh_from_db()
    assert (entry.result, entry.outcome) == (Result.FAILED, "error") and "disk full" in entry.message
    assert (entry.actor_name, entry.target_type, entry.target_id) == ("boss", "user", str(boss.pk))


def test_a_background_outcome_is_written_once_even_if_it_arrives_before_the_queued_note(boss):
    def queue(entry):
        # The worker was quicker than the request that queued it.
        assert finish_staff_action(entry_id=entry.pk, outcome=Outcome(Result.DONE, "re-downloaded", "redownloaded"))
        return Outcome(Result.PENDING, "queued", "queued")

    entry = perform_staff_action(actor=boss, action=Action.REDOWNLOAD, target=boss, reason="test", run=queue)
    entry.refresh_from_db()
    assert (entry.result, entry.message) == (Result.DONE, "re-downloaded")
    assert not finish_staff_action(entry_id=entry.pk, outcome=Outcome(Result.FAILED, "late", "late"))
    entry.refresh_from_db()
    assert entry.result == Result.DONE


def test_staff_read_the_log_and_cannot_change_it(client, boss):
    entry = perform_staff_action(
        actor=boss, action=Action.SUSPEND_USER, target=boss, reason="testing the log",
        run=lambda entry: Outcome(Result.DONE, "Suspended.", "suspended"),
    )
    client.force_login(boss)
    page = client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert "testing the log" in page and "Suspended." in page
    assert reverse("admin:auth_user_change", args=[boss.pk]) in page  # links to the object
    assert client.get(reverse("admin:audit_auditentry_change", args=[entry.pk])).status_code == 200
    assert client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_log_is_kept_in_english_and_read_in_the_readers_language(boss):
    from django.utils import translation
    from django.utils.translation import gettext_noop

    from audit.services import Text

    said = Text(gettext_noop("Breaker closed; %(count)s waiting task(s) sent on."), {"count": 3})
    with translation.override("ko"):  # a member of staff who reads Korean
        entry = perform_staff_action(
            actor=boss, action=Action.CLOSE_BREAKER, target=boss, reason="provider is back", run=lambda e: Outcome(Result.DONE, said, "closed")
        )
    entry.refresh_from_db()
    assert entry.message == "Breaker closed; 3 waiting task(s) sent on." and entry.target_type == "user"
    assert entry.reason == "provider is back"  # staff's words, as typed
    with translation.override("ko"):
        assert entry.shown_message == "차단기를 닫았습니다. 대기 중이던 작업 3개를 보냈습니다."
        assert str(entry.get_result_display()) == "완료"
    assert entry.shown_message == entry.message
    # A plain string (from a service that says it in words) is shown as it was written.
    plain = perform_staff_action(actor=boss, action=Action.SUSPEND_USER, target=boss, reason="r", run=lambda e: Outcome(Result.DONE, "done by hand"))
    with translation.override("ko"):
        assert plain.shown_message == "done by hand"
