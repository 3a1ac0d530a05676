"""The README's quick start, run as a new user would paste it."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, project_env

pytestmark = pytest.mark.slow

README_SOURCE = "https://github.com/your-org/copier-async-fastapi.git"


def quick_start_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "README's quick start has no sh block"
    return block.group(1).replace("\\\n", " ").strip().splitlines()


def test_quick_start_renders_a_project_that_passes_its_tests(
    copier_template: Path, server_url: str, tmp_path: Path
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
            cwd=tmp_path,
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
