"""Every relative link and anchor in README.md and docs/*.md leads somewhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def prose(path):
    """The lines of `path` outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]{1,2}(.+?)[`*_]{1,2}", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    return {slug(match.group(1)) for line in prose(path) if (match := HEADING.match(line))}


def links():
    for document in DOCUMENTS:
        for line in prose(document):
            for target in LINK.findall(line):
                if not re.match(r"[a-z]+:", target):
                    yield pytest.param(document, target,
                                       id=f"{document.relative_to(ROOT)}:{target}")


def test_the_documentation_is_split_by_reader():
    assert {path.name for path in DOCUMENTS} >= {
        "README.md", "operators.md", "api.md", "owners.md", "auditors.md", "model-cards.md",
        "development.md"}


@pytest.mark.parametrize(("document", "target"), list(links()))
def test_every_relative_link_resolves(document, target):
    path, _, anchor = target.partition("#")
    linked = (document.parent / path).resolve() if path else document
    assert linked.exists(), f"{document.name} links to {target}: no such file"
    if anchor:
        assert linked.suffix == ".md", f"{document.name}: an anchor into {linked.name}"
        assert anchor in anchors(linked), (
            f"{document.name} links to {target}: no such heading in {linked.name}")
