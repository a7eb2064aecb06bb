"""What operators and their monitoring read: /healthz (the process answers), /readyz (the database
answers and carries the newest schema) and /metrics (Prometheus exposition, digest/metrics.py).

None of them shows subscriber data: /metrics holds counts and timings only, /readyz a short reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from .. import metrics
from ..db import check_ready
from ..errors import ConfigError

router = APIRouter()

READY_WAIT = 2.0  # seconds a locked SQLite database may hold /readyz before it answers 503


@router.get("/healthz", response_class=PlainTextResponse, summary="Liveness: the process answers")
def healthz():
    return "ok"


@router.get("/readyz", response_class=PlainTextResponse, summary="Readiness: database reachable, migrations current",
            responses={503: {"description": "not ready, with a short reason"}})
def readyz(request: Request):
    try:
        check_ready(request.app.state.engine, busy_timeout=READY_WAIT)
    except ConfigError as exc:
        # The full message names the database; the answer says only which of the two is wrong.
        reason = "migrations not current: run `digest init`" if "schema" in str(exc) else "database not reachable"
        return PlainTextResponse(f"not ready: {reason}", status_code=503)
    return "ready"


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def metrics_page(request: Request):
    return Response(metrics.exposition(request.app.state.metrics), media_type=metrics.CONTENT_TYPE)
