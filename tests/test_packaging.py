from __future__ import annotations

import re
from pathlib import Path
import tomllib

from .conftest import ROOT


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def test_requirements_txt_equals_pyproject_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert sorted(map(_norm, reqs)) == sorted(map(_norm, deps))


def test_importing_qa_loads_no_model_or_torch():
    import subprocess
    import sys

    code = "import sys, qa; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_non_editable_install_carries_every_package_and_answers_outside_the_repository(tmp_path):
    """`pip install .` (a wheel, not -e) into a clean venv: every package and the demo articles with their
    index come along, so `qa ask` and `Bot.load()` answer from any folder. The venv reads its other
    dependencies from this one's site-packages (a .pth file), so nothing is downloaded."""
    import os
    import site
    import subprocess
    import sys
    import venv

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    bin_dir = target / "bin"
    purelib = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies of this environment, after the venv's own site-packages (where qa goes).
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next(wheels.glob("qa-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QA_CORPUS", "QA_INDEX")}
    env.update(HF_HUB_OFFLINE="1", QA_CACHE_DIR=str(tmp_path / "cache"))
    where = subprocess.run([str(bin_dir / "python"), "-c", "import qa; print(qa.__file__)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(purelib), where  # the installed copy, not the repository's
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    code = f"import importlib; [importlib.import_module(p) for p in {[p for p in packages if not p.startswith('qa.demo')]!r}]"
    subprocess.run([str(bin_dir / "python"), "-c", code], cwd=elsewhere, env=env, check=True, timeout=120)
    asked = subprocess.run([str(bin_dir / "qa"), "ask", "What is the Big Fund?"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=300)
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert "Big Fund" in asked.stdout and "Building" not in asked.stderr, asked.stderr[-2000:]
    api = subprocess.run([str(bin_dir / "python"), "-c", "from qa import Bot; a = Bot.load().ask('What is the Big Fund?'); "
                          "print(a.citations[0].source, a.abstained)"], cwd=elsewhere, env=env, capture_output=True,
                         text=True, timeout=300)
    assert api.returncode == 0 and api.stdout.split()[-1] == "False", api.stderr[-2000:]
