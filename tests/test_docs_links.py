"""The repository explains itself: every pointer into the docs leads somewhere.

- No file refers to a product contract outside the repository: the contract is README.md and docs/
  (docs/semantics.md, docs/api.md, ...), and a newcomer can only follow what is here.
- Every relative link of the README and docs/ (`[text](path#anchor)`, `[text](#anchor)`) names an
  existing file and, with an anchor, one of its headings.
- Every `docs/<name>.md#<anchor>` (or `README.md#<anchor>`) written in code, comments or docs names an
  existing file and heading.

Anchors follow GitHub's rule: the heading's text, lowercased, punctuation removed (letters, digits,
`_`, `-` and spaces stay), spaces turned into `-`; a repeated heading gets `-1`, `-2`, ... .
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Written in pieces so that this file does not trip its own check.
_OUTSIDE_CONTRACT = re.compile(
    "|".join(
        [
            r"\bSP" + r"EC\b",  # the contract's old name, in capitals
            r"(?i:spec" + r"\.md)",
            r"(?i:\bspec" + r" sections?\b)",
            r"seed" + r"/postpress",  # the API reference's copy outside the repository
        ]
    )
)

# Directories never part of the repository's own text, for when git cannot list the files.
_NOT_OURS = {".git", ".venv", "venv", "node_modules", "build", "dist", "__pycache__"}

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_DOC_REFERENCE = re.compile(r"(?<![\w./-])((?:docs/[\w.-]+|README)\.md)(?:#([\w-]+))?")


def repository_files() -> list[Path]:
    """The repository's files: git's tracked and new (not ignored) ones; without git, a walk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file()
            and not any(
                part in _NOT_OURS or part.endswith((".egg-info", "_cache"))
                for part in p.relative_to(ROOT).parts
            )
        ]
    return sorted({ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()})


@cache
def text_files() -> dict[Path, str]:
    """Every repository file that is UTF-8 text, by path."""
    texts = {}
    for path in repository_files():
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a picture
        except FileNotFoundError:
            continue  # a new file that another process removed since git listed it
    return texts


def markdown_files() -> list[Path]:
    return [p for p in text_files() if p.suffix == ".md"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays, its target goes
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a markdown text outside fenced code blocks, with their numbers (from 1)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of a markdown file's headings."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def problem(target: Path, anchor: str | None) -> str | None:
    """What is wrong with a pointer to `target` (and `anchor`), or None when it leads somewhere."""
    if not target.exists():
        return f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    if anchor is None:
        return None
    if target.suffix != ".md":
        return f"an anchor into {target.name}, which is not markdown"
    if anchor not in anchors(target):
        known = ", ".join(sorted(anchors(target)))
        return f"{target.relative_to(ROOT)} has no heading #{anchor} (it has: {known})"
    return None


def where(path: Path, text: str, offset: int) -> str:
    """`path:line` of the character at `offset` of the file's `text`."""
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, offset) + 1}"


# --- the tests ---------------------------------------------------------------------------------------


def test_the_helpers_follow_github() -> None:
    assert slug("What happens when...") == "what-happens-when"
    assert slug("`[[notify]]`") == "notify"
    assert slug("`[providers.linkedin]`") == "providerslinkedin"
    assert slug("Reports and status") == "reports-and-status"
    assert slug("Profile changes of a follower of several sources") == (
        "profile-changes-of-a-follower-of-several-sources"
    )
    assert _OUTSIDE_CONTRACT.search("see " + "SP" + "EC section 5")
    assert _OUTSIDE_CONTRACT.search("the " + "spec" + ".md file")
    assert not _OUTSIDE_CONTRACT.search("importlib.util.spec_from_file_location(spec.name)")
    assert [m[1] for m in _DOC_REFERENCE.finditer("(docs/semantics.md#guard), docs/api.md.")] == [
        "docs/semantics.md",
        "docs/api.md",
    ]


def test_the_docs_this_test_guards_exist() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in markdown_files()}
    assert {"README.md", "docs/semantics.md", "docs/api.md"} <= files


def test_nothing_refers_to_a_contract_outside_the_repository() -> None:
    offenders = [
        f"{where(path, text, match.start())}: {match[0]!r}"
        for path, text in text_files().items()
        for match in _OUTSIDE_CONTRACT.finditer(text)
    ]
    assert not offenders, (
        "point to the README or docs/ (docs/semantics.md, docs/api.md) instead:\n" + "\n".join(offenders)
    )


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_markdown_link_leads_to_a_file_and_heading(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    broken = []
    for number, line in prose_lines(text):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            href = match[1]
            if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
                continue  # https:, mailto: ...
            file_part, _, anchor = href.partition("#")
            target = (path.parent / file_part).resolve() if file_part else path
            wrong = problem(target, anchor or None)
            if wrong is not None:
                broken.append(f"{path.relative_to(ROOT)}:{number}: {match[0]}: {wrong}")
    assert not broken, "\n".join(broken)


def test_every_docs_reference_in_the_repository_leads_to_a_file_and_heading() -> None:
    broken = []
    for path, text in text_files().items():
        for match in _DOC_REFERENCE.finditer(text):
            wrong = problem(ROOT / match[1], match[2])
            if wrong is not None:
                broken.append(f"{where(path, text, match.start())}: {match[0]}: {wrong}")
    assert not broken, "\n".join(broken)
