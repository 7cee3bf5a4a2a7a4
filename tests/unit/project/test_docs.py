"""The README and docs/: a short README whose links lead somewhere, and one table of settings.

`make docs-check` (part of `make test`) builds docs/ with `mkdocs build --strict`, which checks
the links between the pages; these tests check what it cannot see: the README, which is not a
page of the site, whether the configuration table matches what the code reads, and whether the
code the pages point at is still there.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import unquote, urlsplit

from tests.support import ROOT
from tests.unit.project.test_container import _env_reads

README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
README_MAX_LINES = 300
# Markdown links and images, [text](target); a target in angle brackets is a bare URL.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# A path into the code, written as code: `bot/slack/server.py`, `tests/unit/test_logs.py`, `bench/`.
CODE_PATH = re.compile(r"`((?:bot|tests|bench)/[\w./-]*)`")
# Read by the HTTP libraries (aiohttp, slack_sdk) rather than by the bot's own code.
READ_BY_LIBRARIES = {"HTTPS_PROXY", "NO_PROXY"}


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as -."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _configuration_rows() -> Counter[str]:
    """How often each variable is named in the first column of the configuration table."""
    names: Counter[str] = Counter()
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_every_link_in_the_readme_leads_to_a_file_or_heading_that_exists() -> None:
    text = README.read_text(encoding="utf-8")
    anchors = {_github_anchor(line.lstrip("#")) for line in text.splitlines() if line[:1] == "#"}
    targets = LINK.findall(text)
    assert any(target.startswith("docs/") for target in targets), "the scan"
    for target in targets:
        parts = urlsplit(target)
        if parts.scheme:
            continue
        if parts.path:
            assert (ROOT / unquote(parts.path)).is_file(), target
        else:
            assert parts.fragment in anchors, target


def test_the_configuration_table_names_every_setting_the_bot_reads_once() -> None:
    rows = _configuration_rows()
    reads = _env_reads()
    assert {"SLACK_BOT_TOKEN", "PORT", "CAMS_QPS_LISTFLOW"} <= reads, "the scan"

    assert sorted(name for name, count in rows.items() if count > 1) == []
    assert sorted(reads - set(rows)) == [], "missing from docs/configuration.md"
    assert sorted(set(rows) - reads - READ_BY_LIBRARIES) == [], "not a setting the bot reads"


def test_every_path_the_docs_name_in_the_code_exists() -> None:
    pages = [README, *sorted(DOCS.rglob("*.md"))]
    named = {
        (page.name, path)
        for page in pages
        for path in CODE_PATH.findall(page.read_text(encoding="utf-8"))
    }
    assert any(path == "bot/preview/" for _, path in named), "the scan"
    assert sorted((page, path) for page, path in named if not (ROOT / path).exists()) == []
