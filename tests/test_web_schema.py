"""Generated requests (schemathesis, from the app's own OpenAPI schema) never cause a server error."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from digest.db import make_engine  # noqa: E402
from digest.web import create_app  # noqa: E402
from tests.web_helpers import STAFF_TOKEN, build_seeded, copy_seeded, settings_for  # noqa: E402


@pytest.fixture(scope="module")
def web_schema(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema")
    url = copy_seeded(build_seeded(folder), folder)
    engine = make_engine(url)
    # With a staff token configured the generated requests reach the staff routes too (by header).
    app = create_app(settings_for(url, folder, staff_token=STAFF_TOKEN), engine)
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app = app
    yield loaded
    engine.dispose()


def test_generated_requests_never_cause_a_server_error(web_schema):
    # Each operation gets its own bounded Hypothesis run; schemathesis' pytest plugin is not used
    # because its fixture loader does not work with the pytest this project runs.
    from hypothesis import given

    failures = []
    for result in web_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers={"Authorization": f"Bearer {STAFF_TOKEN}"})
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collect them all: one run shows every failing operation
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert failures == []


def test_the_schema_lists_every_subscriber_and_staff_route(web_schema):
    paths = set(web_schema.raw_schema["paths"])
    assert {"/", "/preview", "/preview/email", "/preview/send-test", "/unsubscribe/{token}",
            "/preferences/{token}", "/web/{token}", "/feedback/{token}", "/confirm/{token}"} <= paths
