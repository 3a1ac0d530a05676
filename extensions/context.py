"""Names derived from the answers, so that no question is asked twice."""

import re
from typing import Any

from copier_template_extensions import ContextHook


def to_slug(name: str) -> str:
    """Turn "My Orders API" into "my-orders-api", the distribution name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class DerivedNames(ContextHook):
    """Adds `project_slug` to every render (file names, contents and defaults)."""

    def hook(self, context: dict[str, Any]) -> None:
        context["project_slug"] = to_slug(str(context.get("project_name") or ""))
