"""The style guide's "Avoid" list, as patterns searched for in every rendered file."""

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Idiom:
    name: str
    pattern: re.Pattern[str]
    # Rendered paths (relative, posix) where the idiom is allowed.
    allowed_in: tuple[str, ...] = ()
    # Where to look: code by default; prose may name an idiom to warn against it.
    suffixes: frozenset[str] = frozenset({".py", ".mako", ".toml", ".ini"})


def idiom(
    name: str, pattern: str, allowed_in: tuple[str, ...] = (), everywhere: bool = False
) -> Idiom:
    suffixes = TEXT_SUFFIXES if everywhere else Idiom.suffixes
    return Idiom(name, re.compile(pattern, re.MULTILINE), allowed_in, suffixes)


TEXT_SUFFIXES = frozenset({".py", ".toml", ".ini", ".md", ".mako", ".yml", ".yaml", ".example"})


FORBIDDEN = [
    idiom("legacy Query API: use select()", r"\bsession\.query\(|\.query\(\w+\)"),
    idiom("__future__ annotations: 3.14 evaluates lazily", r"from __future__ import annotations"),
    idiom("@app.on_event: use lifespan", r"\.on_event\("),
    idiom("passlib: use pwdlib", r"\bpasslib\b"),
    idiom("python-jose: use PyJWT", r"\b(from|import) jose\b|python-jose"),
    idiom(
        "typing.List/Optional/Dict/...: use builtin generics and X | None",
        r"from typing import .*\b(List|Optional|Dict|Union|Tuple|Set|Type)\b"
        r"|\btyping\.(List|Optional|Dict|Union|Tuple|Set|Type)\b",
    ),
    idiom("Pydantic v1 config: use model_config = ConfigDict(...)", r"^\s*class Config\s*:"),
    idiom("Pydantic v1 validators", r"@(validator|root_validator)\b"),
    idiom("Pydantic v1 methods", r"\.dict\(\)|\.(parse_obj|parse_raw|from_orm)\("),
    idiom("orm_mode: use from_attributes", r"\borm_mode\b"),
    # The config test checks that a psycopg2 URL is refused.
    idiom("psycopg2: use psycopg 3 or asyncpg", r"psycopg2", allowed_in=("tests/test_config.py",)),
    idiom("bare except", r"^\s*except\s*:"),
    idiom("swallowed exception", r"except Exception(\s+as\s+\w+)?:\s*\n\s*pass\b"),
    idiom("wildcard CORS origin", r"allow_origins\s*=\s*\[\s*[\"']\*[\"']"),
    idiom("create_all outside tests", r"\bcreate_all\b", allowed_in=("tests/",)),
    idiom("blocking sleep in async code", r"\btime\.sleep\("),
    idiom("requests: use an async client", r"^\s*(import requests|from requests\b)"),
    idiom("TYPE_CHECKING hides runtime types from FastAPI", r"\bif TYPE_CHECKING\b"),
    idiom("TestClient: use httpx.AsyncClient with ASGITransport", r"\bTestClient\b"),
    idiom(
        "requirements.txt / pip install: use uv",
        r"requirements\.txt|\bpip install\b",
        everywhere=True,
    ),
    idiom(
        "sync engine", r"^from sqlalchemy import .*\bcreate_engine\b|sqlalchemy\.create_engine\("
    ),
    idiom("magic status int: use fastapi.status", r"status_code\s*=\s*\d{3}\b"),
]


def text_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and ".venv" not in path.parts
        and ".git" not in path.parts
        and (path.suffix in TEXT_SUFFIXES or path.name.startswith("."))
    )


def find_forbidden(root: Path) -> list[str]:
    """Every forbidden idiom in the tree, as "path:line: name: the line"."""
    hits = []
    for path in text_files(root):
        relative = path.relative_to(root).as_posix()
        text = path.read_text()
        for rule in FORBIDDEN:
            if path.suffix not in rule.suffixes or (
                rule.allowed_in and relative.startswith(rule.allowed_in)
            ):
                continue
            for match in rule.pattern.finditer(text):
                line_number = text.count("\n", 0, match.start()) + 1
                line = text.splitlines()[line_number - 1].strip()
                hits.append(f"{relative}:{line_number}: {rule.name}: {line}")
    return sorted(hits, key=lambda hit: (hit.split(":")[0], int(hit.split(":")[1])))
