"""The repo root as a Hugging Face Space: a clean venv from requirements.txt alone runs app.py."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from ..conftest import ROOT, served_app

pytestmark = pytest.mark.slow


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert m, "README.md has no front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in m.group(1).splitlines())}


def test_readme_front_matter_is_a_valid_gradio_space():
    fm = _front_matter()
    for key in ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file", "python_version", "license",
                "short_description"):
        assert fm.get(key), key
    assert fm["sdk"] == "gradio" and fm["app_file"] == "app.py" and (ROOT / "app.py").exists()
    assert len(fm["short_description"]) <= 60
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = next(d for d in deps if d.startswith("gradio=="))
    assert fm["sdk_version"] == pinned.split("==")[1]


def test_clean_venv_from_requirements_txt_serves_the_chat(tmp_path):
    from gradio_client import Client

    space = tmp_path / "space"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if (ROOT / rel).is_file():
            (space / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, space / rel)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # This machine's CPU torch first (a Space brings its own); then requirements.txt alone, no `pip install -e .`.
    subprocess.run(pip + [os.environ.get("TORCH", "torch==2.13.0")], check=True, timeout=1200)
    subprocess.run(pip + ["-r", str(space / "requirements.txt")], check=True, timeout=1200)
    with served_app(python=str(venv / "bin" / "python"), cwd=space) as (url, log, _):
        ans = Client(url, verbose=False).predict(question="How many industrial robots did China install in 2023?",
                                                 api_name="/ask")
        c = ans["citations"][0]
        assert "276,000" in c["highlight"]
        assert (space / "corpus" / c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["passage"]
        assert "Building the index" not in log.read_text()
