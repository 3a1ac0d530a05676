"""NullPool variants behind a real PgBouncer in transaction mode: many clients, few servers.

In transaction mode, a client's next transaction may run on a server connection that another
client prepared statements on. Unless the driver settings of `db/session.py` keep prepared
statements from colliding, clients fail with "prepared statement ... already exists" or
"... does not exist". These checks load PgBouncer until that would happen, and a control
run without those settings proves that they do.
"""

import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from tests.conftest import (
    PGBOUNCER_SERVER_CONNECTIONS,
    project_env,
    run,
    run_sql,
    uvicorn,
    with_database,
)
from tests.variants import FULL_VARIANTS, Variant

pytestmark = pytest.mark.slow

NULL_POOL = [
    pytest.param(v, id=v.id, marks=pytest.mark.xdist_group(v.id))
    for v in FULL_VARIANTS
    if v.db_pool == "null"
]

SESSIONS, CONCURRENCY, REPEATS, PROCESSES = 300, 48, 8, 3
JWT_SECRET = "load-test-secret-" + "x" * 32

# Sessions from the service's own engine and sessionmaker, each running the same statement REPEATS
# times (enough for psycopg to prepare it) in one transaction, as a request would.
LOAD_SCRIPT = """
import asyncio, collections, json, sys
from sqlalchemy import literal, select
from app.core.config import get_database_settings
from app.db.session import make_engine, make_sessionmaker

engine = make_engine(get_database_settings())
SessionLocal = make_sessionmaker(engine)

SESSIONS, CONCURRENCY, REPEATS = map(int, sys.argv[1:4])

async def one_request(gate, errors):
    async with gate:
        try:
            async with SessionLocal() as session:
                for n in range(REPEATS):
                    assert (await session.execute(select(literal(n)))).scalar_one() == n
                await session.commit()
        except Exception as error:
            errors[" ".join(f"{type(error).__name__}: {error}".split())[:160]] += 1

async def main():
    gate, errors = asyncio.Semaphore(CONCURRENCY), collections.Counter()
    await asyncio.gather(*(one_request(gate, errors) for _ in range(SESSIONS)))
    await engine.dispose()
    print(json.dumps(dict(errors)))

asyncio.run(main())
"""


@pytest.fixture
def database(
    synced: Callable[[Variant], Path], server_url: str, pgbouncer_url: str, variant: Variant
) -> Iterator[str]:
    """A migrated database of the test's own, and its URL through PgBouncer."""
    project = synced(variant)
    # A name of its own each time: PgBouncer may still pool server connections to a database
    # of the same name that an earlier test dropped.
    name = f"load_{uuid4().hex[:12]}"
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    url = with_database(pgbouncer_url, name)
    env = project_env(APP_DATABASE_URL=url, APP_JWT_SECRET=JWT_SECRET)
    run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], cwd=project, env=env)
    yield url
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(project: Path, url: str) -> dict[str, int]:
    """Run the load from several processes at once, as several workers or pods would.

    asyncpg numbers its statements per process, so names collide only across processes.
    """
    env = project_env(APP_DATABASE_URL=url, APP_JWT_SECRET=JWT_SECRET)
    args = [str(n) for n in (SESSIONS // PROCESSES, CONCURRENCY // PROCESSES, REPEATS)]
    command = ["uv", "run", "--no-sync", "python", "-c", LOAD_SCRIPT, *args]
    workers = [
        subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    errors: Counter[str] = Counter()
    for worker in workers:
        output = worker.communicate(timeout=300)[0]
        assert worker.returncode == 0, output
        errors.update(json.loads(output.strip().splitlines()[-1]))
    return dict(errors)


def idle_in_transaction(project: Path, server_url: str, url: str) -> int:
    name = url.rpartition("/")[2]
    sql = (
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND state LIKE 'idle in transaction%'"
    )
    return int(run_sql(project, server_url, sql).strip())


@pytest.mark.parametrize("variant", NULL_POOL)
def test_concurrent_sessions_share_few_server_connections_without_errors(
    synced: Callable[[Variant], Path], server_url: str, database: str, variant: Variant
) -> None:
    project = synced(variant)

    errors = load(project, database)

    assert errors == {}
    assert SESSIONS > 10 * PGBOUNCER_SERVER_CONNECTIONS
    assert idle_in_transaction(project, server_url, database) == 0


async def hammer(base_url: str, paths: list[str], headers: dict[str, str]) -> list[int]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def get(path: str) -> int:
            async with gate:
                return (await client.get(path, headers=headers)).status_code

        requests = [get(paths[n % len(paths)]) for n in range(SESSIONS)]
        return list(await asyncio.gather(*requests))


@pytest.mark.parametrize("variant", NULL_POOL)
def test_concurrent_http_requests_through_pgbouncer(
    synced: Callable[[Variant], Path], database: str, tmp_path: Path, variant: Variant
) -> None:
    """The service itself, over real HTTP, served by uvicorn."""
    project = synced(variant)
    # The service refuses settings it does not have: the secret only where there is auth.
    secret = {"APP_JWT_SECRET": JWT_SECRET} if variant.auth else {}
    env = project_env(APP_DATABASE_URL=database, APP_TRUSTED_HOSTS='["127.0.0.1"]', **secret)
    log = tmp_path / "uvicorn.log"
    with uvicorn(project, env, log, "--workers", str(PROCESSES)) as base_url:
        paths, headers = ["/health/ready"], {}
        if variant.example_resource:
            paths.append("/items")
        if variant.auth:
            credentials = {"email": "load@example.com", "password": "load-test-password"}
            httpx.post(f"{base_url}/auth/register", json=credentials).raise_for_status()
            form = {"username": credentials["email"], "password": credentials["password"]}
            token = httpx.post(f"{base_url}/auth/token", data=form).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            paths.append("/users/me")
        statuses = asyncio.run(hammer(base_url, paths, headers))

    assert statuses == [200] * SESSIONS, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()


def without_driver_settings(project: Path, destination: Path) -> Path:
    """A copy of the project whose engine has no prepared-statement settings."""
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns(".venv"))
    session_py = destination / "src" / "app" / "db" / "session.py"
    source = session_py.read_text()
    stripped = re.sub(r"\n        connect_args=\{.*?\},\n", "\n", source, flags=re.DOTALL)
    assert stripped != source
    session_py.write_text(stripped)
    run(["uv", "sync"], cwd=destination)
    return destination


@pytest.mark.parametrize("variant", NULL_POOL)
def test_control_without_driver_settings_the_load_fails(
    synced: Callable[[Variant], Path], database: str, tmp_path: Path, variant: Variant
) -> None:
    """Proof that the check above guards the bug: remove the settings and it breaks."""
    control = without_driver_settings(synced(variant), tmp_path / "control")

    errors = load(control, database)

    print(f"{variant.id} without driver settings: {errors}", file=sys.stderr)
    assert sum(errors.values()) > 0
    assert all(re.search("prepared ?statement", m, re.IGNORECASE) for m in errors), errors
