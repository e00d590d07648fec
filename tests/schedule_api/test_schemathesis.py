"""schemathesis against the real service (a `vchannel schedule-api` process on 127.0.0.1):
no request makes a 5xx, and every response matches the OpenAPI document. Bounded: about 300
cases in all (24 per operation).

One check is left out: positive_data_acceptance, which wants every schema-valid request
accepted. The API refuses some of them on purpose, with a 422 naming the field, for rules
that a schema cannot state (the slate asset must exist; a URL must not resolve to a private
address). Every other check runs, including the response schema, status code and content
type conformance checks and the refusal of schema-invalid data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from schedule_api.http.openapi import openapi_document
from schedule_api.routes import OPERATIONS
from tests.e2e.conftest import free_port
from tests.schedule_api.conftest import start_service

schema = schemathesis.openapi.from_dict(openapi_document(OPERATIONS))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("schemathesis")
    port = free_port()
    environ = {"DATABASE_URL": f"sqlite:///{work}/v.db", "INGEST_TIMEOUT_SECONDS": "1"}
    process = start_service(environ, port, work / "log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert "Traceback" not in Path(work / "log").read_text()


@schema.parametrize()
@settings(max_examples=24, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_openapi_document(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url, timeout=10, excluded_checks=[positive_data_acceptance]
    )
