"""The covering set of variants gets the full checks a team would run on day one."""

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import project_env, run, run_sql, with_database
from tests.variants import FULL_VARIANTS, Variant

pytestmark = pytest.mark.slow

# The Makefile targets that CI runs (`make check`), and the test here that runs each one on
# every variant of the covering set (tests/test_ci.py holds CI to this list).
MAKE_TARGETS_RUN_HERE = {
    "sync": "the synced fixture (tests/conftest.py)",
    "lint": "test_make_lint",
    "check-migrations": "test_alembic_upgrade_check_downgrade",
    "test": "test_pytest",
    "check-conflicts": "test_make_check_conflicts",
}

FULL = [pytest.param(v, id=v.id, marks=pytest.mark.xdist_group(v.id)) for v in FULL_VARIANTS]


@pytest.mark.parametrize("variant", FULL)
def test_make_lint(synced: Callable[[Variant], Path], variant: Variant) -> None:
    """ruff check, ruff format --check and mypy --strict, as CI runs them."""
    output = run(["make", "lint"], cwd=synced(variant))
    assert "Success: no issues found" in output


@pytest.mark.parametrize("variant", FULL)
def test_make_check_conflicts(synced: Callable[[Variant], Path], variant: Variant) -> None:
    """A fresh project has no conflict markers (tests/test_ci.py shows the check finds them)."""
    project = synced(variant)
    run(["git", "add", "--all"], cwd=project)  # CI checks what the repository tracks
    run(["make", "check-conflicts"], cwd=project)


@pytest.mark.parametrize("variant", FULL)
def test_alembic_upgrade_check_downgrade(
    synced: Callable[[Variant], Path], server_url: str, variant: Variant
) -> None:
    """CI's migrations check on a fresh database (no drift), then a downgrade to base."""
    project = synced(variant)
    name = f"alembic_{variant.id.replace('-', '_')}"
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}"')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    # The database URL is all that migrations need: no secret, whatever .env holds.
    env = project_env(APP_DATABASE_URL=with_database(server_url, name), APP_JWT_SECRET="")
    try:
        run(["make", "check-migrations"], cwd=project, env=env)  # upgrade head, then check
        run(["uv", "run", "--no-sync", "alembic", "downgrade", "base"], cwd=project, env=env)
    finally:
        run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def passed_count(output: str) -> int:
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)][-1]
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
    output = run(["make", "test"], cwd=synced(variant), env=env)
    print(f"{variant.id}: {passed_count(output)} passed", file=sys.stderr)
