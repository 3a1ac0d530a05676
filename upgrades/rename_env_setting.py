"""Rename a setting in the project's .env, which the template never renders or updates.

Run by a `_migrations` entry of copier.yml, in the project's folder:
    python rename_env_setting.py OLD_NAME NEW_NAME
Keeps the value and the line's place; leaves the file alone when OLD_NAME is absent or
NEW_NAME is already set.
"""

import re
import sys
from pathlib import Path


def rename(text: str, old: str, new: str) -> str:
    if re.search(rf"^\s*(export\s+)?{re.escape(new)}=", text, re.MULTILINE):
        return text
    return re.sub(
        rf"^(\s*(?:export\s+)?){re.escape(old)}=", rf"\g<1>{new}=", text, flags=re.MULTILINE
    )


def main(old: str, new: str) -> None:
    env_file = Path(".env")
    if not env_file.exists():
        return
    text = env_file.read_text()
    renamed = rename(text, old, new)
    if renamed != text:
        env_file.write_text(renamed)
        print(f"Renamed {old} to {new} in .env")


if __name__ == "__main__":
    main(*sys.argv[1:3])
