"""`copier update` from the previous release to this working tree keeps every local edit.

A temporary git repository holds the template at the previous release (tagged) and at the
working tree (tagged with the version at the top of CHANGELOG.md), plus a later patch release
to show that the `_migrations` entry runs only when crossing its version.
"""

import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from tests.conftest import REPO_ROOT, TEMPLATE_PATHS, project_env, run

# The release before this one: its tag and its commit in this repository's history.
# When releasing, move these to the release being made (see README, "Releasing").
PREVIOUS_RELEASE = "v0.1.0"
PREVIOUS_COMMIT = "2d863a2fbb151b88cdecb73c20e2488e6edbbf2c"
PATCH_RELEASE = "v99.0.1"  # a later release built here, for the "runs once" check

CONFLICT_MARKER = "<<<<<<< before updating"


def current_version() -> str:
    match = re.search(r"^## (v\d+\.\d+\.\d+)", (REPO_ROOT / "CHANGELOG.md").read_text(), re.M)
    assert match, "CHANGELOG.md must start its entries with '## vX.Y.Z'"
    return match.group(1)


CURRENT_RELEASE = current_version()


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd)


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--allow-empty", "-m", message)


def export_previous_release(destination: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", PREVIOUS_COMMIT],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"{PREVIOUS_RELEASE} ({PREVIOUS_COMMIT}) is not in this clone's history; "
        f"fetch it (git fetch --unshallow):\n{archive.stderr.decode()}"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[0] in TEMPLATE_PATHS]
        tar.extractall(destination, members=members, filter="data")


def replace_with_working_tree(repo: Path) -> None:
    for name in TEMPLATE_PATHS:
        path = repo / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        source = REPO_ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, path, ignore=ignore)
        else:
            shutil.copy(source, path)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template-history")
    git(repo, "init", "-q")
    export_previous_release(repo)
    commit_all(repo, f"Release {PREVIOUS_RELEASE}")
    git(repo, "tag", PREVIOUS_RELEASE)
    replace_with_working_tree(repo)
    commit_all(repo, f"Release {CURRENT_RELEASE}")
    git(repo, "tag", CURRENT_RELEASE)
    readme = repo / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nPatched.\n")
    commit_all(repo, f"Release {PATCH_RELEASE}")
    git(repo, "tag", PATCH_RELEASE)
    return repo


def copy(template_repo: Path, destination: Path, version: str, **data: object) -> Path:
    """Render a project at `version` and commit it, as a team would."""
    run_copy(
        str(template_repo),
        destination,
        vcs_ref=version,
        data={"project_name": "Demo Service", **data},
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    git(destination, "init", "-q")
    commit_all(destination, "Generated from the template")
    return destination


def update(project: Path, version: str, **data: object) -> None:
    run_update(
        project,
        vcs_ref=version,
        data=data,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        conflict="inline",
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def answers(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


def conflicted_files(project: Path) -> list[str]:
    marker = re.compile(rb"^" + re.escape(CONFLICT_MARKER.encode()), re.MULTILINE)
    return [name for name, content in tree(project).items() if marker.search(content)]


def test_versions_are_ordered() -> None:
    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.lstrip("v").split("."))

    assert key(PREVIOUS_RELEASE) < key(CURRENT_RELEASE) < key(PATCH_RELEASE)


@pytest.mark.slow
def test_untouched_project_updates_to_a_fresh_copy(template_repo: Path, tmp_path: Path) -> None:
    old = copy(template_repo, tmp_path / "old", PREVIOUS_RELEASE)
    fresh = copy(template_repo, tmp_path / "fresh", CURRENT_RELEASE)

    update(old, CURRENT_RELEASE)

    assert answers(old)["_commit"] == CURRENT_RELEASE
    assert tree(old) == tree(fresh)
    run(["uv", "sync", "-q"], cwd=old)
    run(["uv", "run", "--no-sync", "ruff", "check"], cwd=old)
    run(["uv", "run", "--no-sync", "ruff", "format", "--check"], cwd=old)
    run(["uv", "run", "--no-sync", "mypy"], cwd=old)
    run(["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], cwd=old)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_local_edits_elsewhere_survive_the_update(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)
    config = project / "src" / "app" / "core" / "config.py"
    edit(config, "@lru_cache", "ORDER_LIMIT = 50\n\n\n@lru_cache")
    edit(project / "README.md", "## Set up", "Owned by the orders team.\n\n## Set up")
    edit(
        project / "src" / "app" / "main.py",
        "    return app\n",
        "    # Local tweak.\n    return app\n",
    )
    initial = project / "alembic" / "versions" / "0001_initial.py"
    edit(initial, '"""Initial schema', '"""Initial schema (applied in production 2026-01-05)')
    own_revision = project / "alembic" / "versions" / "0002_orders.py"
    own_revision.write_text('"""Orders."""\n')
    own_router = project / "src" / "app" / "api" / "routers" / "orders.py"
    own_router.write_text('"""Orders router."""\n')
    commit_all(project, "Local work")

    update(project, CURRENT_RELEASE)

    assert conflicted_files(project) == []
    assert "ORDER_LIMIT = 50" in config.read_text()
    assert "trusted_hosts" in config.read_text()  # the template's change arrived too
    assert "Owned by the orders team." in (project / "README.md").read_text()
    assert "## Updating from the template" in (project / "README.md").read_text()
    main = (project / "src" / "app" / "main.py").read_text()
    assert "# Local tweak." in main
    assert "settings.trusted_hosts" in main
    assert "applied in production 2026-01-05" in initial.read_text()
    assert own_revision.read_text() == '"""Orders."""\n'
    assert own_router.read_text() == '"""Orders router."""\n'


def test_conflicting_edit_keeps_both_sides_inline(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)
    config = project / "src" / "app" / "core" / "config.py"
    edit(
        config,
        'allowed_hosts: list[str] = ["localhost", "127.0.0.1"]',
        'allowed_hosts: list[str] = ["api.example.com"]',
    )
    commit_all(project, "Production hosts")

    update(project, CURRENT_RELEASE)

    text = config.read_text()
    assert conflicted_files(project) == ["src/app/core/config.py"]
    assert CONFLICT_MARKER in text
    assert 'allowed_hosts: list[str] = ["api.example.com"]' in text  # the user's line
    assert 'trusted_hosts: list[str] = ["localhost", "127.0.0.1"]' in text  # the template's


def test_new_question_takes_its_default(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)
    assert "docker" not in answers(project)

    update(project, CURRENT_RELEASE)

    assert answers(project)["docker"] is True
    assert (project / "Dockerfile").exists()
    assert (project / "compose.yaml").exists()


def test_changed_answer_rerenders_the_affected_files(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", CURRENT_RELEASE)

    update(project, CURRENT_RELEASE, db_driver="psycopg")

    pyproject = (project / "pyproject.toml").read_text()
    assert answers(project)["db_driver"] == "psycopg"
    assert '"psycopg[binary]>=' in pyproject
    assert "asyncpg" not in pyproject
    assert (
        'DATABASE_SCHEME = "postgresql+psycopg"'
        in (project / "src" / "app" / "core" / "config.py").read_text()
    )
    assert conflicted_files(project) == []


ENV_FILE = 'APP_DATABASE_URL=postgresql://localhost/demo\nAPP_ALLOWED_HOSTS=["api.example.com"]\n'


def test_migration_renames_the_setting_in_env_when_crossing_its_version(
    template_repo: Path, tmp_path: Path
) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)
    (project / ".env").write_text(ENV_FILE)  # ignored by git, owned by the project

    update(project, CURRENT_RELEASE)

    assert (project / ".env").read_text() == ENV_FILE.replace("ALLOWED_HOSTS", "TRUSTED_HOSTS")


def test_migration_does_not_run_again_after_its_version(
    template_repo: Path, tmp_path: Path
) -> None:
    project = copy(template_repo, tmp_path / "project", CURRENT_RELEASE)
    (project / ".env").write_text(ENV_FILE)

    update(project, PATCH_RELEASE)

    assert answers(project)["_commit"] == PATCH_RELEASE
    assert (project / ".env").read_text() == ENV_FILE


def test_check_update_reports_a_newer_version(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)
    copier = str(REPO_ROOT / ".venv" / "bin" / "copier")

    def check_update(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [copier, "check-update", *options],
            cwd=project,
            env=project_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    quiet, as_json = check_update("--quiet"), check_update("--output-format", "json")

    assert quiet.returncode == 2, quiet.stdout + quiet.stderr  # for scripts and CI
    report = json.loads(as_json.stdout)
    assert report["update_available"] is True
    assert report["current_version"] == PREVIOUS_RELEASE.lstrip("v")
    assert report["latest_version"] == PATCH_RELEASE.lstrip("v")
