"""The README's quick start, then the project README's run steps, as a new user pastes them."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import REPO_ROOT, project_env, run_sql

pytestmark = pytest.mark.slow

README_SOURCE = "https://github.com/your-org/copier-async-fastapi.git"


def quick_start_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README's quick start has no sh block"
    return block.group(1).replace("\\\n", " ").strip().splitlines()


def shell_block(readme: Path, heading: str) -> list[str]:
    section = readme.read_text().split(heading, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, f"{readme}: {heading} has no sh block"
    return block.group(1).strip().splitlines()


def wait_until_ready(url: str, server: subprocess.Popen[str], seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited with {server.returncode}"
        try:
            return httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A folder like a user's: not under pytest's private temp root, which the project's own
    pytest run makes private again while its throwaway PostgreSQL (another user) still runs."""
    folder = Path(tempfile.mkdtemp(prefix="quick-start-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_quick_start_renders_a_project_that_passes_its_tests(
    copier_template: Path, server_url: str, workspace: Path
) -> None:
    """Without TEST_DATABASE_URL the project starts its own PostgreSQL; with it, it uses it."""
    copy_command, test_command = quick_start_commands()
    assert README_SOURCE in copy_command
    # No terminal here: answer with --defaults and --data instead of the prompts.
    copy_command = copy_command.replace(README_SOURCE, str(copier_template)).replace(
        "--trust", "--trust --defaults --data 'project_name=My Service'"
    )

    def sh(command: str, **env: str) -> str:
        environment = {k: v for k, v in project_env().items() if k != "TEST_DATABASE_URL"}
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=workspace,
            env=environment | env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        return result.stdout + result.stderr

    started = time.perf_counter()
    sh(copy_command)
    print(f"copier copy: {time.perf_counter() - started:.1f} s", file=sys.stderr)

    without_server = sh(test_command)
    assert re.search(r"\d+ passed", without_server)
    assert not re.search(r"failed|skipped|error", without_server.strip().splitlines()[-1])

    with_server = sh(test_command, TEST_DATABASE_URL=server_url)
    assert re.search(r"\d+ passed", with_server)

    # The project README's run steps, against the server its .env names (localhost:5432).
    server = urlsplit(server_url)
    assert (server.hostname, server.port) in {("127.0.0.1", 5432), ("localhost", 5432)}, (
        "the run steps use PostgreSQL on localhost:5432, as the rendered .env says"
    )
    project = workspace / "my-service"
    create_db, migrate, serve = shell_block(project / "README.md", "## Run")
    assert create_db == "createdb -h localhost -U postgres my_service"
    assert serve.startswith("make dev")  # the Makefile's `uv run fastapi dev`
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 8000)) != 0, "the run steps need port 8000 free"
    run_sql(project, server_url, 'DROP DATABASE IF EXISTS "my_service" WITH (FORCE)')
    environment = {k: v for k, v in project_env().items() if not k.startswith("APP_")}
    try:
        for command in (create_db, migrate):
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=project,
                env=environment,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        server_process = subprocess.Popen(
            ["bash", "-c", serve],
            cwd=project,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            status = wait_until_ready("http://127.0.0.1:8000/health/ready", server_process)
        finally:
            os.killpg(server_process.pid, signal.SIGTERM)
            server_process.wait(timeout=30)
        assert status == 200
    finally:
        run_sql(project, server_url, 'DROP DATABASE IF EXISTS "my_service" WITH (FORCE)')
