"""A missing or broken library is named as such, once, with the install command; never blamed on the file
(issue 26). The real readers on real files; the library's absence is real in the process that reads them
(its import fails, as it does in an environment without it), and in a real venv made by Python's own pip."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

PAGE = ("<html><head><title>Opening hours | Town pool</title></head><body><nav>Home · Pools · Contact</nav>"
        "<main><h1>Opening hours</h1><p>The town pool is open every day from 7 am to 9 pm, except on public "
        "holidays, when it opens at 10 am and closes at 6 pm.</p><p>Lane swimming is reserved before 9 am.</p>"
        "</main><footer>© Town council</footer></body></html>")

# Reads a folder the way `qa index` does, in a Python where the named modules cannot be imported.
READ_WITHOUT = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # `import name` now raises ImportError, as where it is not installed
from qa.ingest.documents import load_documents
docs, warnings = load_documents(sys.argv[1])
print(json.dumps({"docs": [d.source for d in docs], "warnings": warnings}))
"""


def _read_without(folder: Path, *modules: str, python: str = sys.executable) -> dict:
    out = subprocess.run([python, "-c", READ_WITHOUT, str(folder), *modules], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def folder(tmp_path):
    from docx import Document as Docx

    d = tmp_path / "docs"
    d.mkdir()
    (d / "pool.html").write_text(PAGE)
    (d / "gym.html").write_text(PAGE.replace("town pool", "town gym"))
    (d / "notes.md").write_text("# Notes\n\nThe sauna is closed on Mondays.\n")
    memo = Docx()
    memo.add_paragraph("Staff may park in the east car park after 6 pm.")
    memo.save(d / "memo.docx")
    return d


@pytest.mark.parametrize("modules, package, kind, files", [
    (("lxml_html_clean",), "lxml_html_clean", "Web pages", ["gym.html", "pool.html"]),
    (("docx",), "python-docx", "Word documents", ["memo.docx"]),
])
def test_a_missing_library_is_one_line_naming_it_and_its_install_command(folder, modules, package, kind, files):
    out = _read_without(folder, *modules)
    lines = [w for w in out["warnings"] if package in w]
    assert len(lines) == 1, out["warnings"]  # once, however many files it cost
    line = lines[0]
    assert line.startswith(f"{kind} need {package}") and f"pip install {package}" in line and "\n" not in line
    assert all(f in line for f in files) and "Nothing is wrong with the file" in line
    assert "save a fresh copy" not in line and "damaged" not in line  # never blamed on the file
    assert "notes.md" in out["docs"] and not set(files) & set(out["docs"])


def test_with_every_library_there_all_files_are_read(folder):
    out = _read_without(folder)
    assert sorted(out["docs"]) == ["gym.html", "memo.docx", "notes.md", "pool.html"] and not out["warnings"]


def test_files_skipped_for_a_missing_library_are_read_once_it_is_installed(folder, tmp_path, embedder):
    """The skip is not remembered against the file: the next index reads it (here, with the library back)."""
    from qa import Bot

    index = tmp_path / "index"
    script = ("import sys\nsys.modules['lxml_html_clean'] = None\nfrom qa import Bot\n"
              f"bot = Bot.load(corpus={str(folder)!r}, index={str(index)!r})\n"
              "print(sorted(d.source for d in bot.index.docs))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT,
                         env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pool.html" not in out.stdout and "memo.docx" in out.stdout
    bot = Bot.load(corpus=folder, index=index)
    assert {"pool.html", "gym.html"} <= {d.source for d in bot.index.docs}
    assert "10 am" in bot.ask("When does the pool open on a bank holiday?").citations[0].passage


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="needs python3.11 with its own venv and pip")
def test_installed_with_the_pip_python311_venv_brings_web_pages_are_read(tmp_path):
    """`python3.11 -m venv` keeps the pip it ships (23.x), which ignores lxml's `html_clean` extra: the
    project declares the library itself, so that pip installs it and web pages are read."""
    venv = tmp_path / "v"
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True, timeout=120)
    pip, python = str(venv / "bin" / "pip"), str(venv / "bin" / "python")
    version = subprocess.run([pip, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("pip 23."), version  # the pip of the venv, not upgraded
    for args in (["torch==2.13.0"], ["-e", str(ROOT)]):
        out = subprocess.run([pip, "install", "-q", *args], capture_output=True, text=True, timeout=1800)
        assert out.returncode == 0, out.stderr[-3000:]
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pool.html").write_text(PAGE)
    (folder / "notes.md").write_text("# Notes\n\nThe sauna is closed on Mondays.\n")
    read = _read_without(folder, python=python)
    assert read["docs"] == ["notes.md", "pool.html"] and not read["warnings"], read
    # Take the library away, as that pip did before: one line naming it and its install command, not the file.
    subprocess.run([pip, "uninstall", "-q", "-y", "lxml_html_clean"], check=True, timeout=300)
    read = _read_without(folder, python=python)
    assert read["docs"] == ["notes.md"]
    assert read["warnings"] == [w for w in read["warnings"] if w.startswith("Web pages need lxml_html_clean")]
    assert len(read["warnings"]) == 1 and "pip install lxml_html_clean" in read["warnings"][0]
