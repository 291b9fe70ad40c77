"""The OpenAPI document is generated without warnings, and its pages need no CDN."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert {"/api/jobs/", "/api/jobs/{id}/", "/api/jobs/{id}/cancel/", "/api/tasks/{id}/", "/api/tasks/{id}/retry/",
            "/api/history/", "/api/me/", "/api/auth/token/"} <= set(schema["paths"])
    create = schema["paths"]["/api/jobs/"]["post"]["responses"]
    assert {"201", "400", "402", "403", "429"} <= set(create)
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_schema_is_served(client, user):
    client.force_login(user)
    response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200 and response.json()["info"]["title"] == "VideoPlanet API"


def test_the_docs_page_loads_its_scripts_from_our_static_files(client, user):
    client.force_login(user)
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar" in s for s in sources), sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
