"""`copier update` from earlier releases to this working tree keeps every local edit.

A temporary git repository holds the template at each release of CHANGELOG.md, exported from
this repository's history (each at its release commit, found as `scripts/tag_releases.py`
finds it, so no tag is needed here), then the working tree, then a later patch release that
shows the `_migrations` entry runs only when crossing its version. The same script tags it.
"""

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from scripts.tag_releases import changelog_versions, release_commits, tag_releases
from tests.conftest import REPO_ROOT, TEMPLATE_PATHS, project_env, run, run_sql, with_database

# Newest first. The top entry is the version this working tree becomes.
VERSIONS = changelog_versions((REPO_ROOT / "CHANGELOG.md").read_text())
CURRENT_RELEASE, PREVIOUS_RELEASE = VERSIONS[0], VERSIONS[1]
# v0.2.0 renamed APP_ALLOWED_HOSTS (with a `_migrations` step) and added the `docker` question:
# the scenarios that exercise those changes start from the release before it.
FIRST_RELEASE = "v0.1.0"
# v0.3.0 brought revisions 0002 and 0003 after 0001 (and a `_migrations` step that joins heads):
# the scenarios that exercise them start from the release before it.
BEFORE_NEW_REVISIONS = "v0.2.0"
PATCH_RELEASE = "v99.0.1"  # a later release built here, for the "runs once" check
# What the temporary repository holds of each release: the template and its CHANGELOG.
RELEASE_PATHS = (*TEMPLATE_PATHS, "CHANGELOG.md")

CONFLICT_MARKER = "<<<<<<< before updating"
COPIER = str(REPO_ROOT / ".venv" / "bin" / "copier")
# Explicit, so that the defaults (from the machine's git config since v0.3.0) cannot differ.
AUTHOR = {"author_name": "Demo Team", "author_email": "demo@example.com"}


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd=cwd)


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--allow-empty", "-m", message)


def export_release(commit: str, destination: Path) -> None:
    """Write the template as it was at `commit` of this repository into `destination`."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    for name in RELEASE_PATHS:
        remove(destination / name)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[0] in RELEASE_PATHS]
        tar.extractall(destination, members=members, filter="data")


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def replace_with_working_tree(repo: Path) -> None:
    for name in RELEASE_PATHS:
        path = repo / name
        remove(path)
        source = REPO_ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, path, ignore=ignore)
        else:
            shutil.copy(source, path)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    commits = release_commits(REPO_ROOT)
    missing = [version for version in VERSIONS[1:] if version not in commits]
    assert not missing, (
        f"no release commit for {missing} in this clone's history (git fetch --unshallow)"
    )
    repo = tmp_path_factory.mktemp("template-history")
    git(repo, "init", "-q")
    for version in reversed(VERSIONS[1:]):
        export_release(commits[version], repo)
        commit_all(repo, f"Release {version}")
    replace_with_working_tree(repo)
    commit_all(repo, f"Release {CURRENT_RELEASE}")
    readme = repo / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nPatched.\n")
    changelog = repo / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            f"## {CURRENT_RELEASE}\n",
            f"## {PATCH_RELEASE}\n\n- Patched.\n\n## {CURRENT_RELEASE}\n",
            1,
        )
    )
    commit_all(repo, f"Release {PATCH_RELEASE}")

    tagged = tag_releases(repo)

    assert [release.version for release in tagged] == [PATCH_RELEASE, *VERSIONS]
    return repo


def copy(template_repo: Path, destination: Path, version: str, **data: object) -> Path:
    """Render a project at `version` and commit it, as a team would."""
    run_copy(
        str(template_repo),
        destination,
        vcs_ref=version,
        data={"project_name": "Demo Service", **AUTHOR, **data},
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
    """The project's files, less `.env`: written once by `copier copy` with a fresh secret."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts and path.name != ".env"
    }


def answers(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


def conflicted_files(project: Path) -> list[str]:
    marker = re.compile(rb"^" + re.escape(CONFLICT_MARKER.encode()), re.MULTILINE)
    return [name for name, content in tree(project).items() if marker.search(content)]


@pytest.mark.parametrize("start", VERSIONS[1:])
def test_untouched_project_updates_to_a_fresh_copy(
    template_repo: Path, tmp_path: Path, start: str
) -> None:
    old = copy(template_repo, tmp_path / "old", start)
    fresh = copy(template_repo, tmp_path / "fresh", CURRENT_RELEASE)

    update(old, CURRENT_RELEASE)

    assert answers(old)["_commit"] == CURRENT_RELEASE
    assert tree(old) == tree(fresh)


def check_project(project: Path, server_url: str) -> str:
    """What a team runs after an update: install, lint, type-check, test; pytest's output."""
    run(["uv", "sync", "-q"], cwd=project)
    run(["uv", "run", "--no-sync", "ruff", "check"], cwd=project)
    run(["uv", "run", "--no-sync", "ruff", "format", "--check"], cwd=project)
    run(["uv", "run", "--no-sync", "mypy"], cwd=project)
    return run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=project_env(TEST_DATABASE_URL=server_url),
    )


@pytest.mark.slow
def test_project_updated_from_the_previous_release_passes_its_checks(
    template_repo: Path, tmp_path: Path, server_url: str
) -> None:
    project = copy(template_repo, tmp_path / "project", PREVIOUS_RELEASE)

    update(project, CURRENT_RELEASE)

    assert " passed" in check_project(project, server_url)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_local_edits_elsewhere_survive_the_update(template_repo: Path, tmp_path: Path) -> None:
    project = copy(template_repo, tmp_path / "project", FIRST_RELEASE)
    config = project / "src" / "app" / "core" / "config.py"
    exceptions = project / "src" / "app" / "core" / "exceptions.py"
    edit(exceptions, "class NotFoundError", "ORDER_LIMIT = 50\n\n\nclass NotFoundError")
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
    assert "ORDER_LIMIT = 50" in exceptions.read_text()
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
    project = copy(template_repo, tmp_path / "project", FIRST_RELEASE)
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
    project = copy(template_repo, tmp_path / "project", FIRST_RELEASE)
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
    project = copy(template_repo, tmp_path / "project", FIRST_RELEASE)
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

    def check_update(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [COPIER, "check-update", *options],
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


def copier_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The copier command as a team runs it (not the API): its messages go to stderr."""
    return subprocess.run(
        [COPIER, *args],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_conflicts_after_an_update_are_spelled_out(template_repo: Path, tmp_path: Path) -> None:
    """Copier exits 0 on a conflict: its closing message says how to find and resolve it."""
    project = copy(template_repo, tmp_path / "project", FIRST_RELEASE)
    edit(
        project / "src" / "app" / "core" / "config.py",
        'allowed_hosts: list[str] = ["localhost", "127.0.0.1"]',
        'allowed_hosts: list[str] = ["api.example.com"]',
    )
    commit_all(project, "Production hosts")

    result = copier_cli(project, "update", "--trust", "--defaults")

    assert result.returncode == 0, result.stdout + result.stderr
    message = result.stderr
    assert f"Updated to template version {PATCH_RELEASE}. Before you commit:" in message
    for step in ("git status", "git diff --check", "git diff HEAD -- .copier-answers.yml"):
        assert step in message
    assert f"the template's CHANGELOG.md ({template_repo})" in " ".join(message.split())
    # What the message tells the user to run finds the conflict and the version crossed.
    status = git(project, "status", "--porcelain")
    assert "UU src/app/core/config.py" in status.splitlines()
    check = subprocess.run(
        ["git", "diff", "--check"], cwd=project, capture_output=True, text=True, check=False
    )
    assert check.returncode != 0
    assert "src/app/core/config.py" in check.stdout
    assert "leftover conflict marker" in check.stdout
    answers_diff = git(project, "diff", "HEAD", "--", ".copier-answers.yml")
    assert f"-_commit: {FIRST_RELEASE}" in answers_diff
    assert f"+_commit: {PATCH_RELEASE}" in answers_diff


TEAM_MODULE = '''"""Limits the orders team set."""

ORDER_LIMIT = 50
'''


@pytest.mark.slow
def test_features_are_removed_by_changing_answers(
    template_repo: Path, tmp_path: Path, server_url: str
) -> None:
    """`update --data auth=false --data example_resource=false`, as the README says."""
    project = copy(template_repo, tmp_path / "project", CURRENT_RELEASE)
    edit(project / "README.md", "## Set up", "Owned by the orders team.\n\n## Set up")
    (project / "src" / "app" / "core" / "limits.py").write_text(TEAM_MODULE)
    commit_all(project, "Team work")
    fresh = copy(
        template_repo,
        tmp_path / "fresh",
        CURRENT_RELEASE,
        auth=False,
        example_resource=False,
    )

    result = copier_cli(
        project,
        "update",
        "--trust",
        "--defaults",
        "--vcs-ref",
        CURRENT_RELEASE,
        "--data",
        "auth=false",
        "--data",
        "example_resource=false",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert answers(project)["auth"] is False
    assert answers(project)["example_resource"] is False
    assert conflicted_files(project) == []
    updated = tree(project)
    assert updated.pop("src/app/core/limits.py").decode() == TEAM_MODULE
    readme = updated.pop("README.md").decode()
    assert "Owned by the orders team.\n\n## Set up" in readme
    assert readme.replace("Owned by the orders team.\n\n", "") == (fresh / "README.md").read_text()
    expected = tree(fresh)
    del expected["README.md"]
    # The template's revisions ran on the project's databases: the update keeps them as they
    # are, tables and all (a fresh copy without the features has them empty).
    for revision_file, table in [
        ("0001_initial.py", "items"),
        ("0002_login_throttle.py", "login_throttle"),
        ("0003_refresh_tokens.py", "refresh_tokens"),
    ]:
        kept = updated.pop(f"alembic/versions/{revision_file}")
        assert f'op.create_table(\n        "{table}"'.encode() in kept
        del expected[f"alembic/versions/{revision_file}"]
    assert updated == expected  # the feature files went, nothing else changed
    # As the README says: a revision of the team's drops the tables, then all checks pass.
    revision = autogenerate(project, server_url, "drop users and items")
    assert 'op.drop_table("items")' in revision
    assert 'op.drop_table("users")' in revision
    assert "passed" in check_project(project, server_url)


def autogenerate(project: Path, server_url: str, message: str) -> str:
    """`alembic revision --autogenerate` against a database migrated to head; the revision."""
    name = f"autogenerate_{project.name}_{os.getpid()}"
    run(["uv", "sync", "-q"], cwd=project)
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}"')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    env = project_env(APP_DATABASE_URL=with_database(server_url, name))
    try:
        run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], cwd=project, env=env)
        command = ["alembic", "revision", "--autogenerate", "-m", message]
        run(["uv", "run", "--no-sync", *command], cwd=project, env=env)
    finally:
        run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    slug = message.replace(" ", "_")
    (revision,) = (project / "alembic" / "versions").glob(f"*_{slug}.py")
    reviewed = drop_users_last(revision)
    run(["uv", "run", "--no-sync", "ruff", "format", str(revision)], cwd=project)
    return reviewed


def drop_users_last(revision: Path) -> str:
    """Review the revision as the README asks: autogenerate orders tables as it likes, and the
    tables that refer to `users` must be dropped before it and created after it."""
    text = revision.read_text()
    head, rest = text.split("def upgrade() -> None:\n", 1)
    upgrade, downgrade = rest.split("\n\n\ndef downgrade() -> None:\n", 1)
    text = (
        head
        + "def upgrade() -> None:\n"
        + users_moved(upgrade, first=False)
        + "\n\n\ndef downgrade() -> None:\n"
        + users_moved(downgrade, first=True)
        + "\n"
    )
    revision.write_text(text)
    return text


def users_moved(body: str, first: bool) -> str:
    """The body's `op.` statements with those on the `users` table first or last."""
    blocks: list[list[str]] = []
    for line in body.rstrip("\n").splitlines():
        if line.startswith(("    op.", "    #")) or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    statements = [b for b in blocks if b[0].startswith("    op.")]
    on_users = [b for b in statements if any('"users"' in line for line in b)]
    others = [b for b in statements if b not in on_users]
    ordered = iter(on_users + others if first else others + on_users)
    lines = [line for b in blocks for line in (next(ordered) if b in statements else b)]
    return "\n".join(lines)


def sync(project: Path) -> None:
    """`uv sync`, then commit its uv.lock, as a team does (copier updates a clean tree only)."""
    run(["uv", "sync", "-q"], cwd=project)
    commit_all(project, "uv.lock")


@contextmanager
def database(project: Path, server_url: str, label: str) -> Iterator[str]:
    """A new, empty database for the project's migrations; its URL. Dropped afterwards."""
    name = f"{label}_{os.getpid()}"
    run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}"')
    run_sql(project, server_url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        run_sql(project, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alembic(project: Path, url: str, *args: str) -> str:
    # Before v0.3.0, Alembic read every setting, the JWT secret too.
    env = project_env(APP_DATABASE_URL=url, APP_JWT_SECRET="an-update-test-secret-" + "x" * 32)
    return run(["uv", "run", "--no-sync", "alembic", *args], cwd=project, env=env)


def tables(project: Path, url: str) -> set[str]:
    query = "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'"
    return set(run_sql(project, url, query).split())


@pytest.mark.slow
def test_update_brings_the_refresh_token_table_as_a_migration(
    template_repo: Path, tmp_path: Path, server_url: str
) -> None:
    """A database migrated before v0.3.0 gets the new tables from `upgrade head`."""
    project = copy(template_repo, tmp_path / "project", BEFORE_NEW_REVISIONS)
    sync(project)
    with database(project, server_url, "refresh_update") as url:
        alembic(project, url, "upgrade", "head")
        assert "refresh_tokens" not in tables(project, url)

        update(project, CURRENT_RELEASE)
        run(["uv", "sync", "-q"], cwd=project)
        alembic(project, url, "upgrade", "head")

        assert "refresh_tokens" in tables(project, url)
        assert run_sql(project, url, "SELECT version_num FROM alembic_version").strip() == "0003"
    assert list((project / "alembic" / "versions").glob("*join_template_revisions*")) == []


OWN_REVISION = '''"""Orders

Revision ID: 5a1e5c0ffee5
Revises: 0001
Create Date: 2026-02-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1e5c0ffee5"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("orders", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("orders")
'''


@pytest.mark.slow
def test_update_joins_the_new_revision_with_the_projects_own(
    template_repo: Path, tmp_path: Path, server_url: str
) -> None:
    """Two heads after the update (the project's revision and 0003): a merge revision joins them."""
    project = copy(template_repo, tmp_path / "project", BEFORE_NEW_REVISIONS)
    versions = project / "alembic" / "versions"
    (versions / "20260201_5a1e5c0ffee5_orders.py").write_text(OWN_REVISION)
    sync(project)
    with database(project, server_url, "refresh_merge") as url:
        alembic(project, url, "upgrade", "head")  # production, at the project's own head

        update(project, CURRENT_RELEASE)
        run(["uv", "sync", "-q"], cwd=project)

        (merge,) = versions.glob("*_join_template_revisions.py")
        heads = [line for line in alembic(project, url, "heads").splitlines() if "(head)" in line]
        assert len(heads) == 1, heads
        head = heads[0].split()[0]
        assert f'revision: str = "{head}"' in merge.read_text()
        alembic(project, url, "upgrade", "head")
        assert {"orders", "refresh_tokens"} <= tables(project, url)
        assert run_sql(project, url, "SELECT version_num FROM alembic_version").strip() == head
        alembic(project, url, "downgrade", "0001")  # and back down both lines
        assert tables(project, url) & {"orders", "refresh_tokens"} == set()
    run(["uv", "run", "--no-sync", "ruff", "check", "alembic"], cwd=project)
    run(["uv", "run", "--no-sync", "ruff", "format", "--check", "alembic"], cwd=project)
