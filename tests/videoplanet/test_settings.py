"""Every setting the README documents works as documented: its example values load and
mean what the README says, and a bad value stops start-up naming the variable."""

import re
from pathlib import Path

import pytest
import runpy
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "videoplanet" / "settings.py"

# Each example value the README's settings table gives, and what the settings must make of it.
EXAMPLES = {
    ("DATABASE_URL", "sqlite:///db.sqlite3"): lambda s: s["DATABASES"]["default"]["ENGINE"].endswith("sqlite3"),
    ("DATABASE_URL", "postgres://user:pass@host:5432/name"): lambda s: (
        s["DATABASES"]["default"]["ENGINE"].endswith("postgresql")
        and s["DATABASES"]["default"]["NAME"] == "name"
        and s["DATABASES"]["default"]["HOST"] == "host"
        and s["DATABASES"]["default"]["PORT"] == 5432
    ),
    ("DEBUG", "false"): lambda s: s["DEBUG"] is False,
    ("ALLOWED_HOSTS", "127.0.0.1,localhost"): lambda s: s["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"],
    ("CSRF_TRUSTED_ORIGINS", "127.0.0.1,localhost"): lambda s: s["CSRF_TRUSTED_ORIGINS"] == ["127.0.0.1", "localhost"],
    ("FAL_SANDBOX_URL", "http://127.0.0.1:8001"): lambda s: s["FAL_SANDBOX_URL"] == "http://127.0.0.1:8001",
    ("PUBLIC_BASE_URL", "http://127.0.0.1:8000"): lambda s: s["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000",
    ("FAL_MEDIA_HOSTS", "fal.media,.fal.media,storage.googleapis.com"): lambda s: s["FAL_MEDIA_HOSTS"]
    == ["fal.media", ".fal.media", "storage.googleapis.com"],
    ("MEDIA_ROOT", "./media"): lambda s: Path(s["MEDIA_ROOT"]).name == "media",
    ("STORAGE_BACKEND", "storages.backends.s3.S3Storage"): lambda s: s["STORAGES"]["default"]["BACKEND"]
    == "storages.backends.s3.S3Storage",
    ("CACHE_URL", "redis://127.0.0.1:6379/1"): lambda s: "redis" in s["CACHES"]["default"]["BACKEND"].lower()
    and "6379/1" in str(s["CACHES"]["default"]["LOCATION"]),
    ("DAILY_VIDEO_LIMITS", "free=20,pro=200"): lambda s: s["DAILY_VIDEO_LIMITS"] == {"free": 20, "pro": 200},
    ("API_JOB_CREATE_RATE", "30/minute"): lambda s: s["API_JOB_CREATE_RATE"] == "30/minute",
    ("API_TOKEN_RATE", "10/minute"): lambda s: s["API_TOKEN_RATE"] == "10/minute",
    ("API_JOB_CREATE_RATE", "10/minute"): lambda s: s["API_JOB_CREATE_RATE"] == "10/minute",
    ("API_TOKEN_RATE", "30/minute"): lambda s: s["API_TOKEN_RATE"] == "30/minute",
    ("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"): lambda s: s["METRICS_ALLOWED_NETWORKS"]
    == ["127.0.0.1/32", "::1/128"],
    ("ADMINS", "admins@localhost"): lambda s: s["ADMINS"] == ["admins@localhost"],
    ("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"): lambda s: s["MAILERS"]["default"]["BACKEND"]
    == "django.core.mail.backends.smtp.EmailBackend",
    ("ACCOUNT_EMAIL_VERIFICATION", "optional"): lambda s: s["ACCOUNT_EMAIL_VERIFICATION"] == "optional",
    ("ACCOUNT_EMAIL_VERIFICATION", "mandatory"): lambda s: s["ACCOUNT_EMAIL_VERIFICATION"] == "mandatory",
    ("ACCOUNT_EMAIL_VERIFICATION", "none"): lambda s: s["ACCOUNT_EMAIL_VERIFICATION"] == "none",
    ("EMAIL_OPTIONS", '{"host": "smtp.example.com", "port": 587, "use_tls": true}'): lambda s: s["MAILERS"]["default"][
        "OPTIONS"
    ]
    == {"host": "smtp.example.com", "port": 587, "use_tls": True},
    ("DEFAULT_FROM_EMAIL", "VideoPlanet <videoplanet@localhost>"): lambda s: s["DEFAULT_FROM_EMAIL"]
    == "VideoPlanet <videoplanet@localhost>",
    ("SANDBOX_FAULTS", "no_webhook=0.1,result_500=0.05"): lambda s: True,  # read by the sandbox itself, below
}


def load_settings(monkeypatch, **environment) -> dict:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def readme_examples() -> set[tuple[str, str]]:
    """(variable, value) for every backticked value in a row of the README's settings
    table: the examples it gives."""
    found = set()
    for row in (ROOT / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        values = [v for v in re.findall(r"`([^`]+)`", cells[1] + " " + cells[2]) if not re.fullmatch(r"[A-Z][A-Z0-9_]+", v)]
        found |= {(name, value) for name in names for value in values}
    return found


# Backticked words in the table that are not values of the variable on their row.
NOT_EXAMPLES = {
    ("ALLOWED_HOSTS", "127.0.0.1,localhost"),  # checked; CSRF_TRUSTED_ORIGINS shares the row
    ("PUBLIC_BASE_URL", "PUBLIC_BASE_URL/webhooks/fal/"),
    ("STATUS_POLL_SECONDS", "make run"),
    ("SANDBOX_SECONDS", "make run"),
    ("STORAGE_OPTIONS", "storages.backends.s3.S3Storage"),
    ("STORAGE_BACKEND", "/media/"),
    ("STORAGE_OPTIONS", "/media/"),
    ("FAL_SANDBOX_URL", "FAL_KEY"),
    ("METRICS_ALLOWED_NETWORKS", "/metrics"),
    ("METRICS_ALLOWED_NETWORKS", "/readyz"),
    ("METRICS_ALLOWED_NETWORKS", "Authorization: Bearer …"),
    ("METRICS_TOKEN", "/metrics"),
    ("EMAIL_OPTIONS", "django.core.mail.backends.smtp.EmailBackend"),
    ("EMAIL_BACKEND", '{"host": "smtp.example.com", "port": 587, "use_tls": true}'),
}


def test_every_example_in_the_readme_is_checked_here():
    unchecked = readme_examples() - set(EXAMPLES) - NOT_EXAMPLES
    assert not unchecked, f"README examples no test loads: {sorted(unchecked)}"


@pytest.mark.parametrize(("name", "value"), sorted(EXAMPLES))
def test_a_documented_example_loads_and_means_what_the_readme_says(monkeypatch, name, value):
    assert EXAMPLES[(name, value)](load_settings(monkeypatch, **{name: value}))


def test_the_sandbox_reads_the_documented_fault_rates():
    from falsandbox.faults import parse_rates

    assert parse_rates("no_webhook=0.1,result_500=0.05") == {"no_webhook": 0.1, "result_500": 0.05}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DAILY_VIDEO_LIMITS", "free=twenty"),
        ("DAILY_VIDEO_LIMITS", "gold=5"),
        ("DEBUG", "maybe"),
        ("DOWNLOAD_MAX_BYTES", "200MB"),
        ("RETRY_BASE_SECONDS", "soon"),
        ("STORAGE_OPTIONS", "{not json"),
        ("API_JOB_CREATE_RATE", "30 per minute"),
        ("FAL_WEBHOOK_REFUSED_RATE", "60 per minute"),
        ("DOWNLOAD_ALLOWED_PORTS", "https"),
        ("DOWNLOAD_ALLOWED_NETWORKS", "10.0.0.0/33"),
        ("DATABASE_URL", "nosuchdb://x"),
        ("ACCOUNT_EMAIL_VERIFICATION", "sometimes"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, name, value):
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, **{name: value})


def test_semicolons_between_limits_work_too(monkeypatch):
    assert load_settings(monkeypatch, DAILY_VIDEO_LIMITS="free=5;pro=50")["DAILY_VIDEO_LIMITS"] == {"free": 5, "pro": 50}
