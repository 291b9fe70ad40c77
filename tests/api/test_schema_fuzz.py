"""A property-based run of the whole JSON API from its own OpenAPI schema
(schemathesis + hypothesis): every operation, with generated valid and invalid input,
must answer without a server error and only with statuses, content types and bodies
the schema documents. Examples are bounded so the run stays well under a minute."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import token_for
from tests.factories import fund, make_task, make_user
from videoplanet.wsgi import application

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 6


@pytest.fixture
def in_process_requests():
    # Requests go straight into the WSGI app, inside this test's transaction: keep
    # Django from closing the test's connection after each (as its test client does).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_every_api_operation_matches_its_schema_for_generated_requests(in_process_requests, settings):
    settings.API_JOB_CREATE_RATE = "10000/minute"
    settings.API_TOKEN_RATE = "10000/minute"
    user = make_user("fuzz")
    fund(user, 100_000)
    make_task(user=user)  # something to list, fetch and retry
    headers = {"Authorization": f"Token {token_for(user=user)}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]
    failures = []
    for operation in operations:
        try:
            run_operation(operation, headers)
        except Exception as failure:  # noqa: BLE001 - every operation's findings, then fail once
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)


def run_operation(operation, headers):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
