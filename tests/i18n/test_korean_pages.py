"""Every page a person sees, asked for in Korean (Accept-Language: ko), has no English
left in what they read: as a visitor, and as a member with videos in every status, a
project and forms with their errors. Another test follows every link of those pages
and fails on a kind of page this list does not cover, so the list stays complete."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from generation.catalog import MODELS
from generation.models import ErrorKind, Task, TaskStatus
from generation.tasks import INTERNAL_MESSAGE
from projects.services import create_project, place_items
from tests.factories import fund, make_task, make_user
from tests.i18n.untranslated import english_phrases

pytestmark = pytest.mark.django_db

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko"}
PROMPTS = {
    TaskStatus.PENDING: "비 오는 밤의 네온 거리",
    TaskStatus.SUBMITTING: "바다 위를 나는 갈매기",
    TaskStatus.QUEUED: "눈 덮인 산을 오르는 등산객",
    TaskStatus.IN_PROGRESS: "고양이가 피아노를 치는 영상",
    TaskStatus.DOWNLOADING: "사막을 건너는 낙타 행렬",
    TaskStatus.COMPLETED: "벚꽃이 흩날리는 강변",
    TaskStatus.FAILED: "우주를 떠다니는 고래",
    TaskStatus.CANCELLED: "불꽃놀이가 터지는 도시",
}
# The model names stay English; what each model does ("text to video") does not.
MODEL_NAMES = tuple(sorted({model.label.split(" · ")[0] for model in MODELS}))


@dataclass
class Site:
    member: Client
    visitor: Client
    newcomer: Client
    items: dict = field(default_factory=dict)
    project: object = None


def completed(item):
    task = item.task
    item.video.save(f"videos/{task.pk}.mp4", ContentFile(b"mp4"), save=False)
    item.poster.save(f"posters/{task.pk}.jpg", ContentFile(b"jpg"), save=False)
    item.duration_seconds, item.width, item.height, item.size_bytes = 5.0, 480, 270, 734_003
    item.save()
    return item


@pytest.fixture
def site() -> Site:
    member = make_user("jiwoo", email="jiwoo@example.com")
    fund(member, 120)
    items = {}
    for status, prompt in PROMPTS.items():
        extra = {}
        if status == TaskStatus.QUEUED:
            extra = {"queue_position": 2}
        elif status == TaskStatus.IN_PROGRESS:
            extra = {"progress": 40}
        item = make_task(user=member, status=status, prompt=prompt, **extra).history_item
        items[status] = completed(item) if status == TaskStatus.COMPLETED else item
    # A failed video as a worker records a failure of ours.
    Task.objects.filter(pk=items[TaskStatus.FAILED].task_id).update(error_kind=ErrorKind.INTERNAL, error_message=INTERNAL_MESSAGE)
    project = create_project(user=member, name="봄 영상 모음", slot_count=3)
    place_items(project=project, items=[items[TaskStatus.COMPLETED], items[TaskStatus.IN_PROGRESS]])

    clients = {}
    for name, user in (("member", member), ("newcomer", make_user("seoyeon"))):
        clients[name] = Client(**KOREAN)
        clients[name].force_login(user)
    return Site(member=clients["member"], newcomer=clients["newcomer"], visitor=Client(**KOREAN), items=items, project=project)


def gallery_updates_url(site: Site) -> str:
    html = site.member.get("/history/").content.decode()
    return re.search(r'hx-get="([^"]*/history/updates/[^"]*)"', html).group(1).replace("&amp;", "&")


# (page, who, how to reach it). Each is asked for in Korean and read.
PAGES = {
    "login": ("visitor", lambda s: s.visitor.get("/accounts/login/")),
    "login, wrong password": ("visitor", lambda s: s.visitor.post("/accounts/login/", {"login": "jiwoo", "password": "nope"})),
    "signup": ("visitor", lambda s: s.visitor.get("/accounts/signup/")),
    "signup, errors": ("visitor", lambda s: s.visitor.post("/accounts/signup/", {"username": "jiwoo", "email": "x", "password1": "1", "password2": "2"})),
    "password reset": ("visitor", lambda s: s.visitor.get("/accounts/password/reset/")),
    "password reset sent": ("visitor", lambda s: s.visitor.get("/accounts/password/reset/done/")),
    "not found (visitor)": ("visitor", lambda s: s.visitor.get("/no-such-page/")),
    "gallery": ("member", lambda s: s.member.get("/history/")),
    "gallery, nothing found": ("member", lambda s: s.member.get("/history/?q=없는말&status=failed")),
    "gallery, empty": ("newcomer", lambda s: s.newcomer.get("/history/")),
    "gallery updates": ("member", lambda s: s.member.get(gallery_updates_url(s), HTTP_HX_REQUEST="true")),
    **{
        f"video, {status.label.lower()}": ("member", lambda s, status=status: s.member.get(f"/history/{s.items[status].pk}/"))
        for status in TaskStatus
    },
    "generate": ("member", lambda s: s.member.get("/generate/")),
    "generate, errors": ("member", lambda s: s.member.post("/generate/", {"prompt": "", "model": "kling-3-t2v"})),
    "generate, plan": ("member", lambda s: s.member.get("/generate/plan/?model=kling-3-t2v&prompt=달&aspect_ratios=16:9&aspect_ratios=9:16", HTTP_HX_REQUEST="true")),
    "generate, model options": ("member", lambda s: s.member.get("/generate/plan/?part=options&model=kling-2.1-i2v", HTTP_HX_REQUEST="true")),
    "regenerate": ("member", lambda s: s.member.get(s.items[TaskStatus.COMPLETED].task.job.regenerate_url)),
    "credits": ("member", lambda s: s.member.get("/credits/")),
    "projects": ("member", lambda s: s.member.get("/projects/")),
    "project": ("member", lambda s: s.member.get(f"/projects/{s.project.pk}/")),
    "pixel art": ("member", lambda s: s.member.get(f"/history/{s.items[TaskStatus.COMPLETED].pk}/pixel-art/")),
    "change password": ("member", lambda s: s.member.get("/accounts/password/change/")),
    "email addresses": ("member", lambda s: s.member.get("/accounts/email/")),
    "not found (member)": ("member", lambda s: s.member.get("/history/00000000-0000-0000-0000-000000000000/")),
}

# Pages that still show English while their strings are being translated. Strict: a
# page listed here that passes fails the test, so take it out of the list once it does.
AWAITING_TRANSLATION: set[str] = set()


@pytest.mark.parametrize(
    "page",
    [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason="strings not translated yet")] if name in AWAITING_TRANSLATION else [])
     for name in PAGES],
)
def test_the_page_is_all_korean(site, page):
    _who, reach = PAGES[page]
    response = reach(site)
    assert response.status_code in (200, 400, 404), f"{page}: {response.status_code}"
    assert response["Content-Language"] == "ko"
    html = response.content.decode()
    assert re.search(r"[가-힣]", html), f"{page}: no Korean at all"
    prompts = tuple(PROMPTS.values())
    # What users and staff typed is theirs: the prompts, names, and the note of the
    # grant that funded the member (tests.factories.fund).
    typed = prompts + ("jiwoo", "seoyeon", "jiwoo@example.com", "test funds")
    leftovers = english_phrases(html, also_allowed=MODEL_NAMES + typed)
    assert not leftovers, f"{page}: English left on the page: {leftovers}"


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Files, downloads, actions (POST only) and pages that are not ours (admin, API docs).
NOT_PAGES = re.compile(r"^/(admin|api|static|media|jsi18n)/|/(video|poster|input|last-frame|logout|delete|retry|cancel)/|download|\.(zip|png|gif|json|mp4)$")


def shape(path: str) -> str:
    return UUID.sub("<id>", path)


def test_every_page_reached_by_a_link_is_in_the_list(site):
    """Follow the links of the member's and the visitor's pages: each kind of page met
    must be one the Korean test above reads."""
    covered = set()
    for _page, (who, reach) in PAGES.items():
        response = reach(site)
        covered.add(shape(urlsplit(response.wsgi_request.get_full_path()).path))
    seen, queue = set(), [("visitor", "/accounts/login/"), ("member", "/history/"), ("member", "/generate/")]
    while queue:
        who, path = queue.pop(0)
        if (who, shape(path)) in seen or NOT_PAGES.search(path):
            continue
        seen.add((who, shape(path)))
        response = getattr(site, who).get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for href in re.findall(r'href="(/[^"#?]*)', response.content.decode()):
            queue.append((who, href))
    missing = sorted({shape(path) for _who, path in seen} - covered - {"/"})
    assert not missing, f"pages reached by a link but not read in Korean: {missing}"
