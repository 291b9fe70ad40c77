"""Server-error reports (the mail to ADMINS) never carry the webhook's secret token,
which fal's webhook URL has in its query string."""

import secrets

import pytest
from django.core import mail
from django.views.debug import technical_500_response

from generation import webhooks
from generation.models import TaskStatus
from tests.factories import make_task
from tests.support import deliver_webhook

pytestmark = pytest.mark.django_db


def test_a_webhook_answered_500_mails_the_admins_without_its_token(client, fal_key, settings, monkeypatch):
    settings.ADMINS = ["admins@example.com"]

    def explode(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(webhooks, "apply_provider_outcome", explode)
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    assert deliver_webhook(client, task, fal_key).status_code == 500
    [report] = mail.outbox
    assert str(task.pk) in report.body  # the report still says which task...
    assert task.webhook_token not in report.body + report.subject  # ...but not its secret
    assert "token=****" in report.body


def test_a_crash_in_the_webhook_view_itself_mails_no_token_either(client, fal_key, settings, monkeypatch):
    # Uncaught: the report has the failing frames and the full request as well.
    settings.ADMINS = ["admins@example.com"]

    def explode(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(webhooks, "receive_delivery", explode)
    client.raise_request_exception = False
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    assert deliver_webhook(client, task, fal_key).status_code == 500
    [report] = mail.outbox
    assert "the database went away" in report.body
    assert task.webhook_token not in report.body + report.subject


def test_the_debug_page_masks_it_too(rf):
    secret = secrets.token_urlsafe()
    request = rf.get(f"/webhooks/fal/?task=abc&token={secret}&page=2")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        response = technical_500_response(request, type(exc), exc, exc.__traceback__)
    page = response.content.decode()
    assert "boom" in page and "page" in page and secret not in page
