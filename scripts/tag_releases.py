"""Tag every release listed in CHANGELOG.md that has no tag yet.

CHANGELOG.md opens each version with a heading `## vX.Y.Z`, newest first, and the version on
top is the one being worked on. A version's release commit is therefore the LAST commit on the
first-parent history of HEAD whose CHANGELOG.md has that version on top: after it, the next
version's entry was opened. For the version on top today, that is HEAD.

The release workflow (.github/workflows/release.yml) runs this on `main` once the tests pass;
maintainers run it in a clone or mirror whose tags are missing. It never moves a tag that
exists: a tag that disagrees with the history is reported, not changed.

    python scripts/tag_releases.py --dry-run   # print what would be tagged
    python scripts/tag_releases.py             # create the missing tags (lightweight)

Needs the full history (`git fetch --unshallow` in a shallow clone). Python 3.10 or later,
standard library only.
"""

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHANGELOG = "CHANGELOG.md"
# A version heading: `## v1.2.3`. PEP 440 release versions only, so that copier sorts them.
HEADING = re.compile(r"^## (v\d+\.\d+\.\d+)\s*$", re.MULTILINE)
ANY_HEADING = re.compile(r"^## .*$", re.MULTILINE)


def changelog_versions(text: str) -> list[str]:
    """Every version heading of a CHANGELOG, top to bottom."""
    return HEADING.findall(text)


def top_version(text: str) -> str | None:
    """The version of the first `## ` heading, or None when it is not a version."""
    first = ANY_HEADING.search(text)
    if first is None:
        return None
    match = HEADING.fullmatch(first.group(0))
    return match.group(1) if match else None


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def changelogs(repo: Path, commits: list[str]) -> Iterable[tuple[str, str | None]]:
    """(commit, CHANGELOG.md text or None) for each commit, read by a single `git cat-file`."""
    if not commits:
        return
    result = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="".join(f"{commit}:{CHANGELOG}\n" for commit in commits).encode(),
        capture_output=True,
        check=True,
    )
    output = result.stdout
    position = 0
    for commit in commits:
        end = output.index(b"\n", position)
        header = output[position:end].split()
        position = end + 1
        if header[-1] == b"missing":
            yield commit, None
            continue
        size = int(header[2])
        yield commit, output[position : position + size].decode()
        position += size + 1  # the content is followed by a newline


def release_commits(repo: Path, ref: str = "HEAD") -> dict[str, str]:
    """Map each version to its release commit: the last first-parent commit with it on top."""
    history = git(repo, "rev-list", "--first-parent", ref).split()  # newest first
    found: dict[str, str] = {}
    for commit, text in changelogs(repo, history):
        version = top_version(text) if text is not None else None
        if version is not None and version not in found:
            found[version] = commit
    return found


def existing_tags(repo: Path) -> dict[str, str]:
    """Tag name -> the commit it points at, for the `v*` tags."""
    # %(*objectname) is what an annotated tag points at; empty for a lightweight tag.
    lines = git(
        repo,
        "for-each-ref",
        "--format=%(refname:lstrip=2) %(objectname) %(*objectname)",
        "refs/tags",
    )
    tags: dict[str, str] = {}
    for line in lines.splitlines():
        name, *objects = line.split()
        if name.startswith("v"):
            tags[name] = objects[-1]
    return tags


@dataclass(frozen=True)
class Release:
    version: str
    commit: str
    tagged: str | None  # the commit its existing tag points at, if any


def plan(repo: Path, ref: str = "HEAD") -> list[Release]:
    """Every version of CHANGELOG.md at `ref`, top to bottom, with its release commit."""
    versions = changelog_versions(git(repo, "show", f"{ref}:{CHANGELOG}"))
    commits = release_commits(repo, ref)
    missing = [version for version in versions if version not in commits]
    if missing:
        raise SystemExit(
            f"no commit has {', '.join(missing)} on top of {CHANGELOG} in the first-parent "
            "history: is this clone shallow (git fetch --unshallow)?"
        )
    tags = existing_tags(repo)
    return [Release(version, commits[version], tags.get(version)) for version in versions]


def tag_releases(repo: Path, *, dry_run: bool = False, ref: str = "HEAD") -> list[Release]:
    """Create the missing tags; return the releases that were (or, dry, would be) tagged."""
    created = []
    for release in plan(repo, ref):
        if release.tagged is None:
            if not dry_run:
                git(repo, "tag", release.version, release.commit)
            created.append(release)
        elif release.tagged != release.commit:
            print(
                f"note: {release.version} is tagged at {release.tagged[:12]}, the history says "
                f"{release.commit[:12]}; left as it is",
                file=sys.stderr,
            )
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the tags, create none")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="default: the cwd")
    options = parser.parse_args()
    created = tag_releases(options.repo, dry_run=options.dry_run)
    for release in created:
        print(f"{release.version} {release.commit}")
    if not created:
        print("every CHANGELOG version is tagged", file=sys.stderr)


if __name__ == "__main__":
    main()
