"""A new user's first days: their own `.env`, a forgotten setting, a first model of their own."""

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import project_env, run, run_sql, with_database
from tests.test_variants import passed_count
from tests.variants import FULL_VARIANTS, Variant

pytestmark = pytest.mark.slow

DEFAULT = Variant()  # every question at its default
BARE = next(v for v in FULL_VARIANTS if not v.auth and not v.example_resource)
assert DEFAULT in FULL_VARIANTS

# Everything a developer's .env or shell could hold that would change the app if tests read it.
HOSTILE_ENV_FILE = """\
APP_ENVIRONMENT=staging
APP_DATABASE_URL=mysql://nowhere/orders
APP_DB_POOL_SIZE=0
APP_TRUSTED_HOSTS=["orders.internal"]
APP_CORS_ORIGINS=["https://evil.example"]
APP_JWT_SECRET=short
APP_ACCESS_TOKEN_TTL_MINUTES=0
APP_ALLOWED_HOSTS=["orders.internal"]
"""
HOSTILE_ENVIRONMENT = {
    "APP_TRUSTED_HOSTS": '["env.internal"]',
    "APP_JWT_ISSUER": "someone-else",
    "APP_JWT_SECRET": "an-environment-secret-of-forty-characters",
}


def pytest_run(project: Path, url: str, **env: str) -> str:
    command = ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"]
    return run(command, cwd=project, env=project_env(TEST_DATABASE_URL=url, **env))


@pytest.mark.xdist_group(DEFAULT.id)
def test_a_hostile_env_file_and_environment_change_no_test_result(
    synced: Callable[[Variant], Path], server_url: str
) -> None:
    project = synced(DEFAULT)
    env_file = project / ".env"
    own = env_file.read_text()
    baseline = passed_count(pytest_run(project, server_url))
    try:
        env_file.write_text(HOSTILE_ENV_FILE)
        hostile = passed_count(pytest_run(project, server_url, **HOSTILE_ENVIRONMENT))
    finally:
        env_file.write_text(own)

    assert hostile == baseline > 0


def start(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a start-up command in a shell without any setting, as a new user might."""
    env = {k: v for k, v in project_env().items() if not k.upper().startswith("APP_")}
    return subprocess.run(
        ["uv", "run", "--no-sync", *command],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.xdist_group(DEFAULT.id)
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["fastapi", "dev", "--port", "0"], id="fastapi-dev"),
        pytest.param(["fastapi", "run", "--port", "0"], id="fastapi-run"),
        pytest.param(["alembic", "upgrade", "head"], id="alembic"),
        pytest.param(["alembic", "upgrade", "head", "--sql"], id="alembic-sql"),
    ],
)
def test_missing_settings_stop_start_up_with_one_message(
    synced: Callable[[Variant], Path], command: list[str]
) -> None:
    project = synced(DEFAULT)
    env_file = project / ".env"
    own = env_file.read_text()
    env_file.unlink()
    try:
        result = start(project, *command)
    finally:
        env_file.write_text(own)

    output = result.stdout + result.stderr
    print(output)
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert "APP_DATABASE_URL: Field required" in output
    assert ("APP_JWT_SECRET: Field required" in output) == (command[0] == "fastapi")
    assert ".env" in output


MODEL = """from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
"""


@pytest.mark.xdist_group(BARE.id)
def test_a_first_model_in_the_bare_variant_gets_a_revision(
    synced: Callable[[Variant], Path], server_url: str
) -> None:
    """No example models: the README's steps still give autogenerate something to see."""
    project = synced(BARE)
    models = project / "src" / "app" / "models"
    package = models / "__init__.py"
    versions = project / "alembic" / "versions"
    own_package = package.read_text()
    name = f"autogenerate_{os.getpid()}"
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}"')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    env = project_env(APP_DATABASE_URL=with_database(server_url, name))
    try:
        (models / "order.py").write_text(MODEL)
        package.write_text(own_package + "\nfrom app.models.order import Order\n")
        run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], cwd=project, env=env)
        command = ["alembic", "revision", "--autogenerate", "-m", "add orders"]
        run(["uv", "run", "--no-sync", *command], cwd=project, env=env)
        revisions = list(versions.glob("*_add_orders.py"))
        assert len(revisions) == 1
        revision = revisions[0].read_text()
    finally:
        (models / "order.py").unlink(missing_ok=True)
        package.write_text(own_package)
        for path in versions.glob("*_add_orders.py"):
            path.unlink()
        run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    assert re.search(r"op\.create_table\(\s*\"orders\"", revision), revision
    last = max(path.name[:4] for path in versions.glob("0*.py"))  # the template's last revision
    assert re.search(rf"^down_revision: .* = \"{last}\"$", revision, re.MULTILINE), revision
