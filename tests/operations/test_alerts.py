"""Alerts: one mail to ADMINS when a threshold is passed, none while it stays passed,
one when it is resolved; a banner in the admin while open."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from generation.models import ErrorKind, TaskStatus, WebhookDelivery, WebhookOutcome
from operations import alerts
from operations.alerts import evaluate_alerts
from operations.models import AlertIncident
from tests.factories import make_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.ADMINS = ["ops@example.com"]
    settings.ALERT_BACKLOG = 3
    settings.ALERT_ERROR_RATE = 0.5
    settings.ALERT_ERROR_RATE_MIN_TASKS = 2
    settings.ALERT_REFUSED_SIGNATURES = 2


def backlog_of(count: int):
    return [make_task(status=TaskStatus.QUEUED) for _ in range(count)]


def test_a_passed_threshold_mails_once_and_its_resolution_once(django_capture_on_commit_callbacks, settings):
    tasks = backlog_of(3)
    with django_capture_on_commit_callbacks(execute=True):
        changes = evaluate_alerts()
    assert [(c.rule, c.opened) for c in changes] == [("backlog", True)]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]
    assert "Backlog" in mail.outbox[0].subject and "3 videos are not finished" in mail.outbox[0].subject

    backlog_of(1)  # still passed, and worse: no second mail
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_alerts() == []
    assert len(mail.outbox) == 1 and AlertIncident.objects.get().value == 4

    for task in tasks:
        type(task).objects.filter(pk=task.pk).update(status=TaskStatus.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        changes = evaluate_alerts()
    assert [(c.rule, c.opened) for c in changes] == [("backlog", False)]
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.endswith("RESOLVED Backlog")
    incident = AlertIncident.objects.get()
    assert incident.resolved_at is not None and not incident.is_open

    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_alerts() == []
    assert len(mail.outbox) == 2


def test_a_second_incident_after_resolution_mails_again(django_capture_on_commit_callbacks):
    tasks = backlog_of(3)
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_alerts()
        type(tasks[0]).objects.filter(pk=tasks[0].pk).update(status=TaskStatus.FAILED)
        evaluate_alerts()
        backlog_of(1)
        evaluate_alerts()
    assert [m.subject.split(" ", 2)[1] for m in mail.outbox] == ["ALERT", "RESOLVED", "ALERT"]
    assert AlertIncident.objects.filter(resolved_at__isnull=True).count() == 1


def test_two_checks_at_once_open_one_incident(django_capture_on_commit_callbacks):
    """Another reconciler opened the incident between this one's look and its insert:
    the database refuses the second, and only the first mails."""
    backlog_of(3)
    AlertIncident.objects.create(rule="backlog", value=3, threshold=3, summary="opened elsewhere")
    rule = next(r for r in alerts.RULES if r.key == "backlog")
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts._open(rule, 3, 3, timezone.now()) is None
    assert AlertIncident.objects.count() == 1 and mail.outbox == []


def test_the_error_rate_needs_enough_finished_videos(django_capture_on_commit_callbacks, settings):
    settings.ALERT_BACKLOG = 0
    make_task(status=TaskStatus.FAILED, error_kind=ErrorKind.PROVIDER, finished_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_alerts() == []  # one failure of one: too little to judge
    make_task(status=TaskStatus.COMPLETED, finished_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        changes = evaluate_alerts()
    assert [c.rule for c in changes] == ["error_rate"] and "50% of the videos" in changes[0].summary


def test_a_burst_of_refused_signatures_opens_an_alert(django_capture_on_commit_callbacks):
    for _ in range(2):
        WebhookDelivery.objects.create(outcome=WebhookOutcome.BAD_SIGNATURE)
    WebhookDelivery.objects.create(outcome=WebhookOutcome.BAD_SIGNATURE, received_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        changes = evaluate_alerts()
    assert [(c.rule, c.summary.split()[0]) for c in changes] == [("refused_signatures", "2")]


def test_a_rule_set_to_zero_is_off(django_capture_on_commit_callbacks, settings):
    settings.ALERT_BACKLOG = 0
    backlog_of(3)
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_alerts() == []
    assert mail.outbox == []


def test_open_alerts_show_as_a_banner_on_every_admin_page(staff):
    AlertIncident.objects.create(rule="spend", value=120, threshold=100, summary="$120.00 spent at the providers today (UTC)")
    page = staff.get("/admin/").content.decode()
    assert "Alert: Spend today" in page and "$120.00 spent" in page
    AlertIncident.objects.update(resolved_at=timezone.now())
    assert "Alert: Spend today" not in staff.get("/admin/").content.decode()


def test_the_banner_speaks_the_readers_language_and_the_stored_summary_stays_english(staff, settings):
    settings.ALERT_BACKLOG = 2
    backlog_of(3)
    evaluate_alerts()
    incident = AlertIncident.objects.get(rule="backlog")
    assert incident.summary == "3 videos are not finished"
    page = staff.get("/admin/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "<strong>경보: 밀린 작업</strong>: 영상 3개가 끝나지 않았습니다" in page and ">모니터링</a>" in page
    english = staff.get("/admin/").content.decode()
    assert "<strong>Alert: Backlog</strong>: 3 videos are not finished" in english
