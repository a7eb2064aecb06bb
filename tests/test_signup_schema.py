"""Generated requests (schemathesis) against the signup, manage and public archive routes: no
server error, with the limits raised so that the requests reach the code behind them."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from digest.db import make_engine  # noqa: E402
from digest.web import create_app  # noqa: E402
from tests.web_helpers import build_seeded, copy_seeded, settings_for  # noqa: E402

NEW = ("/subscribe", "/manage", "/archive/", "/archive/feed.atom", "/archive/{week}/", "/archive/{week}/feed.atom",
       "/companies/{slug}/", "/companies/{slug}/feed.atom", "/segments/{slug}/", "/segments/{slug}/feed.atom")


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    folder = tmp_path_factory.mktemp("schema")
    url = copy_seeded(build_seeded(folder), folder)
    engine = make_engine(url)
    app = create_app(settings_for(url, folder, signup_limit_ip=100_000, signup_limit_address=1000,
                                  cors_origins="https://amw.example"), engine)
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app = app
    yield loaded
    engine.dispose()


def test_the_schema_lists_the_new_routes(schema):
    assert set(NEW) <= set(schema.raw_schema["paths"])


def test_generated_requests_to_the_new_routes_never_cause_a_server_error(schema):
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in NEW:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collect them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert failures == []
