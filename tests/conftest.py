"""Shared fixtures: the real bundled model, loaded once; tiny corpora built in tmp_path."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The exported question encoder (qa/onnx_queries.py) is cached here, not in the user's ~/.cache/qa.
os.environ.setdefault("QA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "qa-test-cache"))

import pytest

ROOT = Path(__file__).resolve().parent.parent

# How close two vectors of one text must be. Both in float32: equal to the last digits. Either through
# bfloat16 (8 bits of mantissa), which the embedder takes where the CPU computes it natively or QA_BF16=1
# says so: equal to its rounding, whose size moves with the batch the text was padded in (up to 3.6e-4
# seen). `make test` runs the suite once with QA_BF16=1 and once with QA_BF16=0, so both hold whatever the CPU.
FLOAT32_ATOL = 1e-5
BF16_ATOL = 2e-3


def vector_atol(bf16: bool) -> float:
    """The tolerance for comparing vectors of which one went through bfloat16 (``bf16``) or neither did."""
    return BF16_ATOL if bf16 else FLOAT32_ATOL


@pytest.fixture(scope="session")
def embedder():
    from qa.embed.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def shipped_bot(embedder):
    """The bot over the shipped corpus and its committed index (never rebuilt here)."""
    from qa import store as index_io
    from qa.bot import Bot

    return Bot(index_io.load(ROOT / "index"), embedder, ROOT / "corpus", ROOT / "index")


def write_corpus(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return folder


def build_bot(corpus: Path, index: Path, embedder, **settings):
    """A Bot over ``corpus`` built with the session's model (no second model load)."""
    from qa import store as index_io
    from qa.bot import Bot
    from qa.store import IndexSettings

    built = index_io.build_from_folder(corpus, IndexSettings(model=embedder.name, **settings), embedder.encode)
    index_io.save(built, index)
    return Bot(index_io.load(index), embedder, corpus, index)


ROBOTS = """# Robots in Industry

Factories across Asia installed record numbers of industrial robots last year. China alone installed over 276,000 units, more than half of the world's total.

Japan remained the largest maker of robot arms. Its exports grew by nine percent.
"""

BAKING = """Sourdough Basics

A sourdough starter is a mix of flour and water that hosts wild yeast. Feed it every day with equal weights of flour and water.

Bake the loaf at 250 degrees Celsius for twenty minutes with the lid on, then twenty more without it.
"""

RIVERS = """The Longest Rivers

The Nile flows for about 6,650 kilometres through eleven countries. The Amazon carries more water than any other river on Earth.
"""


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "docs", {"robots.md": ROBOTS, "baking.txt": BAKING, "geo/rivers.txt": RIVERS})


# ---------------------------------------------------------------- a real launched app

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(python: str = sys.executable, cwd: Path = ROOT, extra_env: dict | None = None, args: tuple = ()):
    """Run ``python app.py`` as a Space would, on a free loopback port; yield (url, log path, process)."""
    port = free_port()
    log = Path(cwd) / "tests" / "artifacts" / f"app-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", **(extra_env or {}))
    env.pop("PYTHONPATH", None)
    with open(log, "w") as out:
        proc = subprocess.Popen([python, "app.py", *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"app.py did not serve {url} within 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, log, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def app_url():
    with served_app() as (url, log, _):
        yield url, log
