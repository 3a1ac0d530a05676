"""Every combination of answers renders, and passes the static checks."""

import ipaddress
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from copier import run_copy

from tests.conftest import REPO_ROOT, render, run
from tests.idioms import find_forbidden, text_files
from tests.variants import ALL_VARIANTS, FULL_VARIANTS, Variant

# "}}" alone is an ordinary end of nested dicts in Python, so it is not looked for; "${{" opens
# a GitHub Actions expression.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#")
RUFF = str(REPO_ROOT / ".venv" / "bin" / "ruff")
CHECK_JSONSCHEMA = str(REPO_ROOT / ".venv" / "bin" / "check-jsonschema")


@pytest.fixture(params=ALL_VARIANTS, ids=lambda variant: variant.id)
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param  # type: ignore[no-any-return]


def test_has_no_forbidden_idioms(rendered, variant: Variant) -> None:
    assert find_forbidden(rendered(variant)) == []


def test_ruff_check_is_clean(rendered, variant: Variant) -> None:
    run([RUFF, "check", "--no-cache", "."], cwd=rendered(variant))


def test_ruff_format_is_clean(rendered, variant: Variant) -> None:
    run([RUFF, "format", "--check", "--no-cache", "."], cwd=rendered(variant))


def test_reads_as_written_by_hand(rendered, variant: Variant) -> None:
    """No Jinja left behind, no runs of blank lines, no trailing spaces, in any file."""
    project = rendered(variant)
    problems = []
    for path in text_files(project):
        relative = path.relative_to(project)
        text = path.read_text()
        if JINJA_LEFTOVER.search(text):
            problems.append(f"{relative}: Jinja syntax left in the output")
        # ruff format rules .py files; Alembic's own .mako template keeps its spacing.
        if "\n\n\n" in text and path.suffix not in {".py", ".mako"}:
            problems.append(f"{relative}: a run of blank lines")
        if re.search(r"[ \t]+$", text, re.MULTILINE):
            problems.append(f"{relative}: trailing whitespace")
        if (text and not text.endswith("\n")) or text.endswith("\n\n"):
            problems.append(f"{relative}: does not end with exactly one newline")
    assert problems == []


def test_dependencies_match_the_answers(rendered, variant: Variant) -> None:
    pyproject = tomllib.loads((rendered(variant) / "pyproject.toml").read_text())
    names = {re.split(r"[\[<>=]", dep)[0] for dep in pyproject["project"]["dependencies"]}

    assert ("asyncpg" in names) == (variant.db_driver == "asyncpg")
    assert ("psycopg" in names) == (variant.db_driver == "psycopg")
    assert ("pwdlib" in names) == variant.auth
    assert ("pyjwt" in names) == variant.auth
    assert {"fastapi", "sqlalchemy", "alembic", "pydantic-settings"} <= names
    assert "sqlalchemy[asyncio]>=2.0.51,<2.1" in pyproject["project"]["dependencies"]
    assert pyproject["project"]["requires-python"] == ">=3.14"


def test_files_follow_the_toggles(rendered, variant: Variant) -> None:
    """Switched-off features leave no files, packages or settings behind."""
    project = rendered(variant)
    app = project / "src" / "app"
    files = {path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file()}
    source = "\n".join(path.read_text() for path in app.rglob("*.py"))

    assert ("src/app/core/security.py" in files) == variant.auth
    assert ("src/app/api/routers/auth.py" in files) == variant.auth
    assert ("src/app/api/routers/items.py" in files) == variant.example_resource
    assert ("tests/test_items.py" in files) == variant.example_resource
    assert ("jwt_secret" in source) == variant.auth
    for package in ["models", "schemas", "services", "repositories"]:
        assert (app / package / "__init__.py").exists()  # the layout, even when empty
    assert "tests/test_migrations.py" in files  # the drift test, in every variant
    assert "alembic/versions/0001_initial.py" in files  # the root of every later revision
    # Empty without auth: turning auth off must not take away a revision a database has run.
    assert "alembic/versions/0002_login_throttle.py" in files
    assert ("src/app/services/login_throttle.py" in files) == variant.auth
    assert ("tests/factories.py" in files) == variant.has_models
    assert ("NullPool" in source) == (variant.db_pool == "null")
    assert ("pool_size" in source) == (variant.db_pool == "queue")
    assert f"postgresql+{variant.db_driver}" in source
    assert {".env", ".env.example"} <= files
    assert ".env" in (project / ".gitignore").read_text().splitlines()
    assert ".pre-commit-config.yaml" in files
    for docker_file in ["Dockerfile", ".dockerignore", "compose.yaml"]:
        assert (docker_file in files) == variant.docker
    assert {"Makefile", "renovate.json"} <= files
    assert (".github/workflows/ci.yml" in files) == (variant.ci == "github")
    assert (".github/workflows/template-update.yml" in files) == (variant.ci == "github")
    assert (".github/workflows/image.yml" in files) == (variant.ci == "github" and variant.docker)
    assert (".gitlab-ci.yml" in files) == (variant.ci == "gitlab")


@pytest.mark.parametrize(
    "docker_variant", [v for v in ALL_VARIANTS if v.docker], ids=lambda variant: variant.id
)
def test_compose_file_is_valid(rendered, docker_variant: Variant) -> None:
    variant = docker_variant
    compose = rendered(variant) / "compose.yaml"
    run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(compose)], cwd=REPO_ROOT)
    services = yaml.safe_load(compose.read_text())["services"]
    assert ("pgbouncer" in services) == (variant.db_pool == "null")
    api_url = services["api"]["environment"]["APP_DATABASE_URL"]
    assert ("@pgbouncer:" in api_url) == (variant.db_pool == "null")
    assert "@db:" in services["migrate"]["environment"]["APP_DATABASE_URL"]
    assert ("APP_JWT_SECRET" in services["api"]["environment"]) == variant.auth
    # One image: api builds it, migrate runs it and never pulls it.
    assert [name for name, service in services.items() if "build" in service] == ["api"]
    assert services["migrate"]["image"] == services["api"]["image"]
    assert services["migrate"]["pull_policy"] == "never"
    assert "restart" not in services["migrate"]  # a one-shot job
    for name in services.keys() - {"migrate"}:
        assert services[name]["restart"] == "unless-stopped", name
        assert "healthcheck" in services[name], name
    api = services["api"]
    assert ("pgbouncer" in api["depends_on"]) == (variant.db_pool == "null")
    if variant.db_pool == "null":
        assert api["depends_on"]["pgbouncer"] == {"condition": "service_healthy"}
    assert "api" in json.loads(api["environment"]["APP_TRUSTED_HOSTS"])
    [network] = yaml.safe_load(compose.read_text())["networks"]["default"]["ipam"]["config"]
    proxies = ipaddress.ip_network(api["environment"]["FORWARDED_ALLOW_IPS"])
    assert proxies.subnet_of(ipaddress.ip_network(network["subnet"]))


def test_covering_set_covers_every_pair() -> None:
    questions = ["db_driver", "db_pool", "auth", "example_resource", "docker", "ci"]
    for question in questions:
        values = {getattr(v, question) for v in ALL_VARIANTS}
        assert {getattr(v, question) for v in FULL_VARIANTS} == values, question
    for first, second in [("db_driver", "db_pool"), ("db_driver", "auth"), ("db_pool", "auth")]:
        pairs = {(getattr(v, first), getattr(v, second)) for v in ALL_VARIANTS}
        covered = {(getattr(v, first), getattr(v, second)) for v in FULL_VARIANTS}
        assert covered == pairs, (first, second)
    # The static checks meet every CI choice with every value of every other question.
    for question in questions[:-1]:
        pairs = {(v.ci, getattr(v, question)) for v in ALL_VARIANTS}
        assert len(pairs) == 3 * len({getattr(v, question) for v in ALL_VARIANTS}), question


def test_idiom_guard_names_file_and_line(tmp_path: Path) -> None:
    """The guard itself must be able to fail."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(
        "import os\nfrom typing import Optional\n\n\ndef f():\n    try:\n        pass\n"
        "    except:\n        raise\n    users = session.query(User).all()\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ok.py").write_text("await conn.run_sync(Base.metadata.create_all)\n")

    hits = find_forbidden(tmp_path)

    assert [hit.split(": ")[0] for hit in hits] == ["src/bad.py:2", "src/bad.py:8", "src/bad.py:10"]


@pytest.mark.parametrize("name", ["", "   ", "1st service", "my/service", "naïve", "x" * 65])
def test_unusable_project_names_are_refused(
    copier_template: Path, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValueError, match="Use 1 to 64 letters, digits"):
        run_copy(
            str(copier_template),
            tmp_path,
            data={"project_name": name},
            defaults=True,
            unsafe=True,
            quiet=True,
        )


@pytest.mark.parametrize("name", ["FastAPI", "SQLAlchemy", "pydantic settings", "Alembic"])
def test_names_of_dependencies_are_refused(
    copier_template: Path, tmp_path: Path, name: str
) -> None:
    """A project named like one of its dependencies could not be installed (uv sync fails)."""
    with pytest.raises(ValueError, match="is a package the service depends on"):
        run_copy(
            str(copier_template),
            tmp_path,
            data={"project_name": name},
            defaults=True,
            unsafe=True,
            quiet=True,
        )


def test_env_file_has_a_fresh_secret_and_the_readme_database(
    copier_template: Path, tmp_path: Path
) -> None:
    first = render(copier_template, tmp_path / "first", Variant())
    second = render(copier_template, tmp_path / "second", Variant())

    def env(project: Path) -> dict[str, str]:
        lines = (project / ".env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))

    secret = env(first)["APP_JWT_SECRET"]
    assert len(secret) >= 64
    assert secret != env(second)["APP_JWT_SECRET"]
    assert secret not in (first / ".env.example").read_text()
    database_url = env(first)["APP_DATABASE_URL"]
    assert database_url.endswith("/demo_service")
    assert "createdb -h localhost -U postgres demo_service" in (first / "README.md").read_text()


def test_author_defaults_come_from_git(copier_template: Path, tmp_path: Path) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Ada Lovelace\n\temail = ada@example.org\n")
    env = {"GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1"}
    result = subprocess.run(
        [
            *(str(REPO_ROOT / ".venv" / "bin" / "copier"), "copy", "--trust", "--defaults"),
            *("--data", "project_name=Demo", str(copier_template), tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=os.environ | env,
    )

    assert result.returncode == 0, result.stderr
    pyproject = tomllib.loads((tmp_path / "out" / "pyproject.toml").read_text())
    assert pyproject["project"]["authors"] == [{"name": "Ada Lovelace", "email": "ada@example.org"}]


def test_invalid_author_email_is_refused(copier_template: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Enter an e-mail address"):
        run_copy(
            str(copier_template),
            tmp_path,
            data={"project_name": "Demo", "author_email": "not-an-email"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )


def test_cli_refuses_a_bad_name_with_the_validator_message(
    copier_template: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            *(str(REPO_ROOT / ".venv" / "bin" / "copier"), "copy", "--trust", "--defaults"),
            *("--data", "project_name=my/service", str(copier_template), tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )

    # Copier prints a traceback for invalid --data; its last line is the validator's message.
    assert result.returncode != 0
    assert "Use 1 to 64 letters, digits" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_derived_names(copier_template: Path, tmp_path: Path) -> None:
    project = render(copier_template, tmp_path, Variant())
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())

    assert pyproject["project"]["name"] == "demo-service"
    assert "project_slug" not in (project / ".copier-answers.yml").read_text()
