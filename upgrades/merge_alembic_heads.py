"""Join Alembic's heads when an update brought a revision next to the project's own.

Run by a `_migrations` entry of copier.yml, in the project's folder, after the update:
    python merge_alembic_heads.py
The template's new revisions follow 0001; so may the project's own. Two heads make
`alembic upgrade head` fail, so this writes the merge revision that `alembic merge heads`
would. It reads `revision` and `down_revision` from each file as text (copier's Python has
neither Alembic nor the project's packages), does nothing when there is one head, and writes
nothing, saying what to run instead, when a revision file cannot be read.
"""

import ast
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

VERSIONS = Path("alembic") / "versions"

MERGE_REVISION = '''"""Join the template's revisions and the project's

Revision ID: {revision}
Revises: {revises}
Create Date: {created:%Y-%m-%d %H:%M:%S}
"""

from collections.abc import Sequence

revision: str = "{revision}"
down_revision: str | Sequence[str] | None = (
{down_revisions})
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to run: this revision only joins the lines of history it revises."""


def downgrade() -> None:
    """Nothing to undo."""
'''


class UnreadableRevisionError(Exception):
    pass


def read_revision(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """The file's revision id and the ids it revises; None for a file that is no revision."""
    try:
        module = ast.parse(path.read_text(), filename=str(path))
        values = {}
        for node in module.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in {"revision", "down_revision"}:
                values[target.id] = ast.literal_eval(value)
    except (SyntaxError, ValueError) as error:
        raise UnreadableRevisionError(f"{path}: {error}") from error
    if "revision" not in values:
        return None
    down = values.get("down_revision")
    if down is None:
        return values["revision"], ()
    return values["revision"], (down,) if isinstance(down, str) else tuple(down)


def find_heads(versions: Path) -> list[str]:
    revisions = {}
    for path in sorted(versions.glob("*.py")):
        if (read := read_revision(path)) is not None:
            revision, down_revisions = read
            if revision in revisions:
                raise UnreadableRevisionError(f"{path}: revision {revision!r} is not unique")
            revisions[revision] = down_revisions
    revised = {down for down_revisions in revisions.values() for down in down_revisions}
    return sorted(set(revisions) - revised)


def write_merge(versions: Path, heads: list[str]) -> Path:
    revision = uuid.uuid4().hex[:12]
    created = datetime.now(UTC)
    path = versions / f"{created:%Y%m%d}_{revision}_join_template_revisions.py"
    path.write_text(
        MERGE_REVISION.format(
            revision=revision,
            revises=", ".join(heads),
            created=created,
            down_revisions="".join(f'    "{head}",\n' for head in heads),
        )
    )
    return path


def main() -> int:
    if not VERSIONS.is_dir():
        return 0
    try:
        heads = find_heads(VERSIONS)
    except UnreadableRevisionError as error:
        print(f"Could not read the Alembic revisions ({error}).", file=sys.stderr)
        print(
            "If `uv run alembic heads` lists more than one, run `uv run alembic merge heads`.",
            file=sys.stderr,
        )
        return 0
    if len(heads) > 1:
        path = write_merge(VERSIONS, heads)
        print(f"Alembic had {len(heads)} heads ({', '.join(heads)}): {path} joins them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
