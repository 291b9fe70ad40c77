"""Production refuses to start with the default SECRET_KEY."""

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "videoplanet" / "settings.py"


def load(monkeypatch, **environment) -> dict:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize("environment", [{"FAL_KEY": "key-id:secret"}, {"PRODUCTION": "true"}])
def test_production_refuses_the_default_secret_key(monkeypatch, environment):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load(monkeypatch, **environment)


def test_production_refuses_a_short_secret_key(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        load(monkeypatch, PRODUCTION="true", SECRET_KEY="short")


def test_production_starts_with_a_real_secret_key(monkeypatch):
    key = "k" * 50
    assert load(monkeypatch, FAL_KEY="key-id:secret", SECRET_KEY=key)["SECRET_KEY"] == key


def test_local_runs_keep_the_default_key(monkeypatch):
    assert load(monkeypatch, FAL_KEY="")["PRODUCTION"] is False
    assert load(monkeypatch, PRODUCTION="true", DEBUG="true")["DEBUG"] is True  # debugging is never production
