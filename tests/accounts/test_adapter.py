"""Signing up through the pages: the account is made with its wallet and the welcome
grant, the address is sent a confirmation link, and the new user is signed in."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from credits.models import EntryKind, LedgerEntry

pytestmark = pytest.mark.django_db

STRONG = "a-long-Passphrase-42"


def sign_up(client, username="newcomer", email="newcomer@example.com", password=STRONG, password2=None):
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": password, "password2": password2 or password},
    )


def test_a_new_user_starts_with_the_welcome_grant_on_their_ledger(client, settings):
    settings.CREDITS_WELCOME_GRANT = 7
    answer = sign_up(client)
    assert answer.status_code == 302
    user = get_user_model().objects.get(username="newcomer")
    assert user.wallet.balance == 7
    grant = LedgerEntry.objects.get(wallet__user=user)
    assert (grant.kind, grant.credits) == (EntryKind.GRANT, 7)
    # Signed in at once (verification is optional by default), and the gallery opens.
    assert client.get("/history/").status_code == 200


def test_sign_up_sends_a_confirmation_link_that_verifies_the_address(client):
    sign_up(client)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["newcomer@example.com"]
    link = re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body).group(1)
    client.post(link)
    user = get_user_model().objects.get(username="newcomer")
    assert user.emailaddress_set.get().verified


def test_mandatory_verification_keeps_the_new_user_out_until_they_confirm(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    answer = sign_up(client)
    assert answer.status_code == 302 and answer["Location"] == "/accounts/confirm-email/"
    assert client.get("/history/").status_code == 302  # not signed in
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password2": "something-else-42"}, "password2", "same password"),
        ({"password": "123", "password2": "123"}, "password1", "too short"),
        ({"email": "not-an-address"}, "email", "valid email"),
    ],
)
def test_a_refused_sign_up_says_which_field_and_makes_nobody(client, fields, field, message):
    answer = sign_up(client, **fields)
    assert answer.status_code == 200
    assert message in str(answer.context["form"].errors[field]).lower() or message in str(answer.context["form"].errors).lower()
    assert not get_user_model().objects.filter(username="newcomer").exists()
    assert not LedgerEntry.objects.exists()


def test_a_taken_username_or_email_is_refused(client):
    get_user_model().objects.create_user("newcomer", "first@example.com", "pw")
    answer = sign_up(client, email="other@example.com")
    assert "username" in answer.context["form"].errors
    answer = sign_up(client, username="second", email="FIRST@example.com")
    assert "email" in answer.context["form"].errors


def test_allauths_rate_limits_count_each_client_behind_our_proxy_not_the_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "2/m/ip"}

    def reset(sender, forged=""):
        chain = f"{forged}, {sender}" if forged else sender
        return Client(REMOTE_ADDR="10.0.0.2").post(
            "/accounts/password/reset/", {"email": "nobody@example.com"}, HTTP_X_FORWARDED_FOR=chain
        ).status_code

    # One sender is limited, whatever it writes into X-Forwarded-For itself...
    assert [reset("203.0.113.61", forged=f"192.0.2.{n}") for n in range(3)][-1] == 429
    # ...and nobody else behind the same proxy is.
    assert reset("203.0.113.62") != 429
