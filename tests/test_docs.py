"""The documentation keeps up with the code (issue 24): every ``QA_*`` variable and every command-line option
is in docs/configuration.md, the README stays short, and no relative link points at nothing."""
from __future__ import annotations

import argparse
import ast
import re
import unicodedata
from pathlib import Path

from .conftest import ROOT

CONFIGURATION = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
MAX_README_LINES = 260
ENV_NAME = re.compile(r"QA_[A-Z0-9_]+")
# [text](target) and ![alt](target); a target may end with a "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _code_files() -> list[Path]:
    return sorted((ROOT / "qa").rglob("*.py")) + [ROOT / "app.py"]


def _documents() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _options_in_source(path: Path) -> set[str]:
    """Long options of every ``add_argument(...)`` call in a file, read without running it (app.py builds its
    parser under ``if __name__ == "__main__"``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            found |= {a.value for a in node.args
                      if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("--")}
    return found


def _options_of(parser: argparse.ArgumentParser) -> set[str]:
    """Long options of a parser and of all its subcommands, walked recursively."""
    found = set()
    for action in parser._actions:  # argparse has no public way to list them
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options_of(sub)
        else:
            found |= {o for o in action.option_strings if o.startswith("--")}
    return found - {"--help"}


def _prose(path: Path) -> str:
    """A markdown file without its fenced code blocks (a `# comment` there is not a heading, nor a link)."""
    kept, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line)
    return "\n".join(kept)


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a markdown file's headings: lower case, punctuation dropped, spaces as hyphens."""
    found = set()
    for line in _prose(path).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            text = unicodedata.normalize("NFC", m.group(1)).lower()
            found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


def test_every_qa_environment_variable_in_the_code_is_in_the_configuration_reference():
    in_code = {name for path in _code_files() for name in ENV_NAME.findall(path.read_text(encoding="utf-8"))}
    assert len(in_code) >= 20, sorted(in_code)  # the scan itself works
    documented = set(ENV_NAME.findall(CONFIGURATION.read_text(encoding="utf-8")))
    missing = sorted(in_code - documented)
    assert not missing, f"add to docs/configuration.md: {missing}"


def test_every_command_line_option_is_in_the_configuration_reference():
    from qa.serve import cli

    assert Path(cli.__file__).resolve().is_relative_to(ROOT), cli.__file__  # this checkout's code, not another's
    options = _options_of(cli.parser()) | _options_in_source(ROOT / "qa" / "serve" / "cli.py") | _options_in_source(ROOT / "app.py")
    assert {"--corpus", "--llm", "--passage-vectors", "--host", "--port"} <= options, sorted(options)
    text = CONFIGURATION.read_text(encoding="utf-8")
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![\w-])", text))
    assert not missing, f"add to docs/configuration.md: {missing}"


def test_the_readme_is_short_and_keeps_the_space_front_matter_on_top():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move details to docs/"
    assert lines[0] == "---" and "app_file: app.py" in lines[:lines.index("---", 1)], "the Space front matter must open the README"


def test_every_relative_link_points_at_a_file_that_exists():
    broken, checked = [], 0
    for doc in _documents():
        for target in LINK.findall(_prose(doc)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http(s), mailto: not ours to check
                continue
            path, _, anchor = target.partition("#")
            where = doc if not path else (doc.parent / path).resolve()
            checked += 1
            if not where.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and anchor.lower() not in _anchors(where):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert checked >= 10, checked  # the links were found at all
    assert not broken, broken


def test_the_readme_links_every_docs_page_and_shows_both_screenshots():
    text = _prose(README)
    targets = set(LINK.findall(text))
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert not pages - targets, f"not linked from README.md: {sorted(pages - targets)}"
    assert {"docs/screenshot.png", "docs/upload.png"} <= targets
