"""A person at the keyboard, as far as HTTP goes: log in, fill in the Generate form,
read the gallery."""

import re

import requests


def csrf_token(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def login(stack) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session.get(f"{stack.url}/accounts/login/"))
    answer = session.post(
        f"{stack.url}/accounts/login/",
        data={"username": "demo", "password": "demo", "csrfmiddlewaretoken": token, "next": "/history/"},
        headers={"Referer": f"{stack.url}/accounts/login/"},
    )
    assert answer.url.endswith("/history/"), "demo login failed"
    return session


def generate(stack, session, prompt: str) -> requests.Response:
    token = csrf_token(session.get(f"{stack.url}/generate/"))
    return session.post(
        f"{stack.url}/generate/",
        data={"prompt": prompt, "model": "kling-3-t2v", "duration": "5", "aspect_ratios": "16:9", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{stack.url}/generate/"},
    )


def card_statuses(stack, session) -> dict[str, str]:
    """Gallery card id -> status, as the page shows them."""
    html = session.get(f"{stack.url}/history/").text
    return dict(re.findall(r'id="card-([0-9a-f-]+)"[^>]*data-status="([a-z_]+)"', html))


def press(stack, session, action: str) -> requests.Response:
    """Press a card's button (a POST form such as /history/<id>/cancel/) as the gallery does."""
    token = csrf_token(session.get(f"{stack.url}/history/"))
    return session.post(
        f"{stack.url}{action}", data={"csrfmiddlewaretoken": token}, headers={"Referer": f"{stack.url}/history/"}
    )
