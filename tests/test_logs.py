"""The service's logs as a server writes them: the default variant under uvicorn, in production.

uvicorn runs without `--no-access-log` (as `fastapi run` does, which has no such flag): the
service's own logging must replace uvicorn's access log and put uvicorn's lines in JSON too.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, project_env, uvicorn
from tests.variants import Variant

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(Variant().id)]

JWT_SECRET = "logs-test-secret-" + "x" * 32


def test_every_line_is_json_with_request_ids_and_uvicorns_access_log_is_gone(
    synced: Callable[[Variant], Path], tmp_path: Path
) -> None:
    project = synced(Variant())
    # Nothing listens on the database's port: /health/ready logs why it answers 503.
    env = project_env(
        APP_ENVIRONMENT="production",  # the project's .env says development
        APP_DATABASE_URL=f"postgresql://app@127.0.0.1:{free_port()}/app",
        APP_JWT_SECRET=JWT_SECRET,
        APP_TRUSTED_HOSTS='["127.0.0.1"]',
    )
    log = tmp_path / "uvicorn.log"
    with (
        uvicorn(project, env, log) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        responses = [
            client.get("/health/live", headers={"X-Request-ID": "probe-1"}),
            client.get("/health/live", headers={"X-Request-ID": "forged\tline"}),
            client.get("/nowhere"),
            client.get("/health/ready"),
        ]

    text = log.read_text()
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line]
    assert [r.status_code for r in responses] == [200, 200, 404, 503], text
    ids = [r.headers["x-request-id"] for r in responses]
    assert ids[0] == "probe-1"
    assert len(set(ids)) == len(ids)
    # uvicorn speaks through the service's handler, and its access log is gone.
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers
    assert "uvicorn.access" not in loggers
    assert "HTTP/1.1" not in text
    assert "\\u001b" not in text  # no terminal colours (uvicorn's color_message)
    access = [line for line in lines if line["logger"] == "app.access"]
    assert [(a["request_id"], a["method"], a["path"], a["status"]) for a in access] == [
        (ids[0], "GET", "/health/live", 200),
        (ids[1], "GET", "/health/live", 200),
        (ids[2], "GET", "/nowhere", 404),
        (ids[3], "GET", "/health/ready", 503),
    ]
    # A line logged while serving a request carries its id.
    [unavailable] = [line for line in lines if line["message"].startswith("Database unavailable")]
    assert unavailable["level"] == "WARNING"
    assert unavailable["request_id"] == ids[3]
    assert JWT_SECRET not in text
    print(f"{len(lines)} JSON lines, {len(access)} access lines", flush=True)
