"""Serving many people at once: questions share model passes, and the load benchmark runs clean."""
from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np

from ..conftest import ROOT

QUESTIONS = ["How many industrial robots did China install?", "What share of AI data centers are in the US?",
             "Why does Musk think China will lead in AI compute?", "And China's?"]


def test_concurrent_questions_share_model_passes_and_each_gets_its_own_vector(embedder, monkeypatch):
    passes: list[int] = []
    real = embedder._encode_questions  # one model pass over a batch of questions (ONNX Runtime or torch)

    def counted(texts):
        passes.append(len(texts))
        return real(texts)

    monkeypatch.setattr(embedder, "_encode_questions", counted)  # the real model still encodes; only counted
    got: dict[tuple[int, int], np.ndarray] = {}

    def user(i: int) -> None:
        for j in range(5):
            got[(i, j)] = embedder.encode_queries([QUESTIONS[(i + j) % len(QUESTIONS)]])[0]

    threads = [threading.Thread(target=user, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got) == 60
    expected = embedder.encode(QUESTIONS, bf16=False)  # torch's float32 vectors: ONNX Runtime's equal them
    for (i, j), v in got.items():
        assert np.abs(v - expected[(i + j) % len(QUESTIONS)]).max() < 1e-4
    assert sum(passes) == 60 and len(passes) < 60 and max(passes) > 1  # batches formed


def test_a_failing_model_pass_reaches_every_question_in_it_and_the_next_ones_still_work(embedder, monkeypatch):
    real = embedder._encode_questions
    monkeypatch.setattr(embedder, "_encode_questions", lambda texts: (_ for _ in ()).throw(RuntimeError("out of memory")))
    try:
        embedder.encode_queries(["anything"])
        raise AssertionError("the error was swallowed")
    except RuntimeError as err:
        assert "out of memory" in str(err)
    monkeypatch.setattr(embedder, "_encode_questions", real)
    assert embedder.encode_queries(QUESTIONS[:2]).shape == (2, embedder.dimension)


def test_the_load_benchmark_runs_bounded_and_serves_without_errors():
    """A short run of bench/load.py: a launched app, five users with uploads and follow-ups, ten seconds."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--users", "5", "--seconds", "10",
                          "--warmup", "3", "--single", "3"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "| target | met | measured |" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    row = next(line for line in out.stdout.splitlines() if line.startswith("| ") and "upload" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[0].replace(",", "")) > 10 and cells[2] == "0", row  # requests served, errors
    assert "5 upload" in cells[1] and "ask-library" in cells[1]
