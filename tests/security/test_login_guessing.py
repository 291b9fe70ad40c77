"""Password guessing is limited per account and per client address (django-axes,
counting in the database), on the HTML login, the admin login and the API token
endpoint alike; the client address is never taken from a header the client wrote."""

import pytest
import requests
from django.test import Client
from rest_framework.test import APIClient

from tests.api.conftest import error_of
from tests.factories import make_user
from tests.stack import running_stack
from videoplanet.client_address import client_address

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def victim():
    return make_user("victim", is_staff=True)


def html_login(username, password, *, addr="198.51.100.7", **headers):
    return Client(REMOTE_ADDR=addr).post("/accounts/login/", {"login": username, "password": password}, headers=headers)


def admin_login(username, password, *, addr="198.51.100.7", **headers):
    return Client(REMOTE_ADDR=addr).post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}, headers=headers
    )


def token_login(username, password, *, addr="198.51.100.7", **headers):
    return APIClient(REMOTE_ADDR=addr).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json", headers=headers
    )


def test_the_html_login_locks_an_account_after_the_limit_even_for_the_right_password(victim):
    codes = [html_login("victim", f"guess{n}").status_code for n in range(LIMIT)]
    # The form again, with its error; the failure that reaches the limit locks.
    assert codes == [200] * (LIMIT - 1) + [429]
    locked = html_login("victim", "pw")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert int(locked["Retry-After"]) > 0


def test_an_account_is_locked_whatever_address_the_guesses_come_from(victim):
    for n in range(LIMIT):
        html_login("victim", f"guess{n}", addr=f"203.0.113.{n + 1}")
    assert html_login("victim", "pw", addr="203.0.113.200").status_code == 429


def test_every_spelling_of_an_account_shares_its_count(victim):
    """The login form takes the username in any case or the email address: guesses
    under each spelling count against the one account (from other addresses, so the
    address limit plays no part)."""
    victim.email = "victim@example.com"
    victim.save()
    spellings = ["victim", "VICTIM", "Victim@Example.com"]
    for n, spelling in enumerate(spellings[:LIMIT]):
        html_login(spelling, f"guess{n}", addr=f"203.0.113.{n + 1}")
    locked = html_login("victim@example.com", "pw", addr="203.0.113.99")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content


def test_an_address_is_locked_whatever_accounts_it_tries(victim):
    make_user("bystander")
    for n in range(LIMIT):
        html_login(f"someone{n}", "guess")
    assert html_login("bystander", "pw").status_code == 429
    # Another address is not affected.
    assert html_login("bystander", "pw", addr="192.0.2.55").status_code == 302


def test_rotating_x_forwarded_for_does_not_reset_the_count(victim):
    make_user("bystander")
    for n in range(LIMIT):
        html_login(f"someone{n}", "guess", **{"X-Forwarded-For": f"10.9.8.{n}"})
    assert html_login("bystander", "pw", **{"X-Forwarded-For": "10.9.8.250"}).status_code == 429


@pytest.mark.parametrize("login", [admin_login, token_login])
def test_rotating_x_forwarded_for_gains_nothing_on_the_admin_and_token_logins_either(login, victim):
    make_user("bystander")
    for n in range(LIMIT):
        login(f"someone{n}", "guess", **{"X-Forwarded-For": f"10.9.8.{n}"})
    assert login("bystander", "pw", **{"X-Forwarded-For": "10.9.8.250"}).status_code == 429


def test_the_admin_login_is_limited_too(victim):
    assert [admin_login("victim", f"guess{n}").status_code for n in range(LIMIT)] == [200] * (LIMIT - 1) + [429]
    assert admin_login("victim", "pw").status_code == 429


def test_the_api_token_endpoint_is_limited_with_the_json_error_shape(victim):
    assert [token_login("victim", f"guess{n}").status_code for n in range(LIMIT - 1)] == [400] * (LIMIT - 1)
    locked = token_login("victim", "last-guess")
    assert locked.status_code == 429 and error_of(locked)["code"] == "locked_out"
    locked = token_login("victim", "pw")
    assert locked.status_code == 429 and error_of(locked)["code"] == "locked_out"


def test_failures_on_one_login_count_on_the_others(victim):
    html_login("victim", "a")
    admin_login("victim", "b")
    token_login("victim", "c")
    assert token_login("victim", "pw").status_code == 429


def test_a_right_password_under_the_limit_still_works(victim):
    html_login("victim", "typo")
    assert token_login("victim", "pw").status_code == 200


def test_behind_one_trusted_proxy_the_client_is_the_address_the_proxy_saw(rf, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote "1.1.1.1"; our proxy appended the address it was connected from.
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    assert client_address(request) == "203.0.113.9"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"


def test_behind_a_trusted_proxy_rotating_the_forged_part_does_not_help(settings, victim):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(LIMIT):
        html_login(f"someone{n}", "guess", addr="10.0.0.2", **{"X-Forwarded-For": f"1.1.1.{n}, 203.0.113.9"})
    assert html_login("victim", "pw", addr="10.0.0.2", **{"X-Forwarded-For": "7.7.7.7, 203.0.113.9"}).status_code == 429
    # Someone else behind the same proxy is a different client.
    assert html_login("victim2", "x", addr="10.0.0.2", **{"X-Forwarded-For": "203.0.113.10"}).status_code == 200


@pytest.mark.e2e
def test_the_limit_holds_across_two_web_processes(tmp_path):
    """gunicorn with 2 processes: a new connection per guess, so both serve some.
    Counting per process would let 2 × limit through."""
    with running_stack(tmp_path, "http://127.0.0.1:9", LOGIN_FAILURE_LIMIT=LIMIT * 2) as stack:
        answers = []
        for n in range(LIMIT * 6):
            with requests.Session() as session:
                answer = session.post(
                    f"{stack.url}/api/auth/token/",
                    json={"username": "demo", "password": f"guess{n}"},
                    headers={"Connection": "close", "X-Forwarded-For": f"10.1.2.{n}"},
                    timeout=30,
                )
            answers.append(answer.status_code)
        # The failure that reaches the limit is the first refused, whichever process took it.
        assert answers[: LIMIT * 2 - 1] == [400] * (LIMIT * 2 - 1), answers
        assert set(answers[LIMIT * 2 - 1 :]) == {429}, answers
        right = requests.post(f"{stack.url}/api/auth/token/", json={"username": "demo", "password": "demo"}, timeout=30)
        assert right.status_code == 429


def _redis_answers() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.e2e
def test_api_throttles_count_across_processes_in_a_shared_redis_cache(tmp_path):
    """Two gunicorn processes with CACHE_URL on Redis: the token throttle's count is
    one count, not one per process."""
    if not _redis_answers():
        pytest.skip("no Redis on 127.0.0.1:6379")
    import random

    # Behind one trusted proxy the client is the last X-Forwarded-For entry: an address
    # of this run's own, so no other run sharing the Redis counts with it.
    client = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    with running_stack(
        tmp_path, "http://127.0.0.1:9", CACHE_URL="redis://127.0.0.1:6379/5", API_TOKEN_RATE="4/minute",
        LOGIN_FAILURE_LIMIT=1000, TRUSTED_PROXY_COUNT=1,
    ) as stack:
        answers = []
        for n in range(12):
            with requests.Session() as session:
                answer = session.post(
                    f"{stack.url}/api/auth/token/",
                    json={"username": "demo", "password": f"guess{n}"},
                    headers={"Connection": "close", "X-Forwarded-For": f"1.2.3.{n}, {client}"},
                    timeout=30,
                )
            answers.append(answer.status_code)
        assert answers.count(400) == 4 and answers.count(429) == 8, answers


@pytest.mark.parametrize("login", [html_login, admin_login, token_login])
def test_an_overlong_name_is_a_refused_login_that_counts_not_a_server_error(login, victim):
    codes = [login("v" * 1000, "guess").status_code for _ in range(LIMIT)]
    assert all(code < 500 for code in codes) and codes[-1] == 429
    assert login("v" * 1000, "guess", addr="192.0.2.99").status_code == 429  # the account (by its name) is locked


def test_one_account_is_one_count_however_its_name_is_written(victim):
    # Sign-in by e-mail matches names case-insensitively: a guesser must not get a
    # fresh count for every spelling of the same account.
    for spelling in ("VICTIM", " Victim ", "\uff56\uff49\uff43\uff54\uff49\uff4d"):  # the last in full-width letters
        html_login(spelling, "guess", addr="203.0.113.77")
    assert html_login("victim", "pw", addr="192.0.2.1").status_code == 429
