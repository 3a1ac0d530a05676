"""The covering set of variants gets the full checks a team would run on day one."""

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import project_env, run, run_sql, with_database
from tests.variants import FULL_VARIANTS, Variant

pytestmark = pytest.mark.slow

FULL = [pytest.param(v, id=v.id, marks=pytest.mark.xdist_group(v.id)) for v in FULL_VARIANTS]


@pytest.mark.parametrize("variant", FULL)
def test_ruff(synced: Callable[[Variant], Path], variant: Variant) -> None:
    project = synced(variant)
    run(["uv", "run", "--no-sync", "ruff", "check"], cwd=project)
    run(["uv", "run", "--no-sync", "ruff", "format", "--check"], cwd=project)


@pytest.mark.parametrize("variant", FULL)
def test_mypy_strict(synced: Callable[[Variant], Path], variant: Variant) -> None:
    output = run(
        ["uv", "run", "--no-sync", "mypy", "--strict", "src", "tests"], cwd=synced(variant)
    )
    assert "Success: no issues found" in output


@pytest.mark.parametrize("variant", FULL)
def test_alembic_upgrade_check_downgrade(
    synced: Callable[[Variant], Path], server_url: str, variant: Variant
) -> None:
    """The CLI a team runs: upgrade a fresh database, find no drift, downgrade to base."""
    project = synced(variant)
    name = f"alembic_{variant.id.replace('-', '_')}"
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}"')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    # The database URL is all that migrations need: no secret, whatever .env holds.
    env = project_env(APP_DATABASE_URL=with_database(server_url, name), APP_JWT_SECRET="")
    try:
        for command in (["upgrade", "head"], ["check"], ["downgrade", "base"]):
            run(["uv", "run", "--no-sync", "alembic", *command], cwd=project, env=env)
    finally:
        run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def passed_count(output: str) -> int:
    summary = output.strip().splitlines()[-1]
    assert not re.search(r"failed|skipped|error|xfail", summary), summary
    match = re.search(r"(\d+) passed", summary)
    assert match, summary
    return int(match.group(1))


@pytest.mark.parametrize("variant", FULL)
def test_pytest(
    synced: Callable[[Variant], Path],
    server_url: str,
    request: pytest.FixtureRequest,
    variant: Variant,
) -> None:
    """Its own tests pass; the NullPool variants run them through a real PgBouncer."""
    url = request.getfixturevalue("pgbouncer_url") if variant.db_pool == "null" else server_url
    env = project_env(TEST_DATABASE_URL=url)
    output = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=synced(variant),
        env=env,
    )
    print(f"{variant.id}: {passed_count(output)} passed", file=sys.stderr)
