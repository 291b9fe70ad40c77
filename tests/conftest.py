import shutil

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.cache import cache

from devtools.sandbox import run_sandbox
from devtools.signing import JwksServer, jwk_for
from generation.fal import _make_client
from tests.factories import fund, make_user
from tests.stack import TEMPLATE


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Each test gets its own media folder, an empty cache, and fresh provider clients."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens: unit tests apply webhooks themselves
    settings.RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_MIN_INTERVAL_SECONDS = 0  # tests that mean to see the interval set it
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
    cache.clear()
    _make_client.cache_clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    """Erin, a user with 50 credits to spend (password "pw")."""
    user = make_user("erin")
    fund(user, 50)
    return user


@pytest.fixture
def other_user(db):
    """Someone else, with credits of their own: what is theirs must stay theirs."""
    other = make_user("frank")
    fund(other, 50)
    return other


@pytest.fixture
def signed_in(client, user):
    """Django's test client, signed in as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def boss():
    """A superuser: the member of staff the admin tests act as."""
    return make_user("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def staff(client, boss):
    """Django's test client, signed in as `boss` (the admin)."""
    client.force_login(boss)
    return client


@pytest.fixture
def jwks_server(settings):
    """A JWKS served over real HTTP, with no keys until the test publishes some."""
    server = JwksServer()
    settings.FAL_JWKS_URL = server.url
    yield server
    server.server.shutdown()


@pytest.fixture
def fal_key(jwks_server):
    """A signing key whose public half is published: deliveries signed with it verify."""
    key = Ed25519PrivateKey.generate()
    jwks_server.keys = [jwk_for(key, "test-key")]
    return key


@pytest.fixture(scope="session", autouse=True)
def _stack_template():
    """Drops the migrated database the stacks of this session were copied from, if one was made."""
    yield
    TEMPLATE.drop()


@pytest.fixture(scope="session")
def sandbox_process():
    with run_sandbox(seconds=1.0) as process:
        yield process


@pytest.fixture
def sandbox(sandbox_process, settings):
    """The local fal sandbox, with the app pointed at it (as `make run` does)."""
    settings.FAL_KEY = ""
    settings.FAL_SANDBOX_URL = sandbox_process.url
    settings.FAL_USE_SANDBOX = True
    settings.FAL_JWKS_URL = sandbox_process.jwks_url
    settings.DOWNLOAD_ALLOW_PRIVATE = True
    _make_client.cache_clear()
    return sandbox_process


def _runs_its_own_stack(item) -> bool:
    """An end-to-end test that uses no test database: it starts its own processes on its own."""
    return (
        item.get_closest_marker("e2e") is not None
        and item.get_closest_marker("django_db") is None
        and not {"db", "transactional_db", "live_server"} & set(item.fixturenames)
    )


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """The end-to-end tests that start their own stack run first, and, when the suite is
    spread over processes (scripts/test.sh, TEST_PROCESSES), all in one of them: their
    minutes are mostly waiting, which the other processes fill with the rest of the
    suite, and two stacks never compete for the cores."""
    for item in items:
        if _runs_its_own_stack(item):
            item.add_marker(pytest.mark.xdist_group("own-stack"))
    yield  # pytest-django orders the database tests meanwhile; their order is kept
    items.sort(key=lambda item: not _runs_its_own_stack(item))


def pytest_report_header(config):
    engine = django_settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"database: {engine}"


@pytest.fixture
def browser():
    """Headless Chromium driven through chromedriver (Debian's packages). The test is
    skipped, with the reason, on a machine without them."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1400", "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=chromedriver), options=options)
    yield driver
    driver.quit()
