from __future__ import annotations

import json
import os
import subprocess
import sys

from ..conftest import ROOT, write_corpus


def qa(*args, cwd=ROOT):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_help_lists_the_commands():
    out = qa("--help")
    assert out.returncode == 0
    for cmd in ("index", "ask", "eval"):
        assert cmd in out.stdout


def test_ask_json_returns_cited_answer():
    out = qa("ask", "How many industrial robots did China install in 2023?", "--json", "-k", "3")
    assert out.returncode == 0, out.stderr
    ans = json.loads(out.stdout)
    assert len(ans["citations"]) == 3 and not ans["abstained"]
    c = ans["citations"][0]
    assert "276,000" in c["highlight"]
    assert (ROOT / "corpus" / c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["passage"]


def test_ask_plain_text_shows_numbered_sources():
    out = qa("ask", "What is the Big Fund?")
    assert out.returncode == 0, out.stderr
    assert "[1]" in out.stdout and ".txt" in out.stdout


def test_the_three_outcomes_read_the_same_on_the_command_line():
    """What the chat and the API say, the CLI says: the outcome, its confidence and, when not answered, why."""
    answered = qa("ask", "How many industrial robots did China install in 2023?")
    assert answered.returncode == 0 and "(answered · confidence " in answered.stdout
    tentative = qa("ask", "How many industrial robots did China install in 2019?")
    assert tentative.returncode == 0 and "(tentative · confidence " in tentative.stdout
    assert "another year" in tentative.stdout and "276,000" in tentative.stdout.split("[1]")[0]
    missing = json.loads(qa("ask", "Who won the 2018 FIFA World Cup?", "--json").stdout)
    assert missing["outcome"] == "not found" and missing["reason"] == "No document mentions FIFA."
    assert missing["text"].startswith("Not found in the documents.") and len(missing["citations"]) == 5


def test_empty_question_exits_2_with_one_line():
    out = qa("ask", "   ")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "empty" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_corpus_exits_1_with_one_line(tmp_path):
    out = qa("ask", "anything", "--corpus", str(tmp_path / "none"))
    assert out.returncode == 1
    assert out.stderr.strip().startswith("qa: Corpus folder") and "Traceback" not in out.stderr


def test_index_command_builds_a_user_corpus(tmp_path):
    corpus = write_corpus(tmp_path / "docs", {"a.md": "# Tea\n\nDarjeeling tea grows on the slopes of the Himalayas."})
    out = qa("index", str(corpus))
    assert out.returncode == 0, out.stderr
    assert "Index ready" in out.stdout and (corpus / ".qa-index" / "manifest.json").exists()
    assert "Embedding passages" in out.stderr  # the progress bar, saying what embeds
    assert any(f"({runtime}, {precision})" in out.stderr for runtime in ("torch", "OpenVINO") for precision in ("bfloat16", "float32"))
    # One line about the calibration, and the same figures in the manifest.
    line = next(x for x in out.stdout.splitlines() if x.startswith("Calibration:"))
    stored = json.loads((corpus / ".qa-index" / "manifest.json").read_text())["calibration"]
    assert "fewer than 300 passages" in line and stored["reason"] in line
    again = qa("ask", "Where does Darjeeling tea grow?", "--corpus", str(corpus), "--json")
    assert "Himalayas" in json.loads(again.stdout)["citations"][0]["highlight"]


def test_eval_prints_the_metrics_table():
    out = qa("eval")
    assert out.returncode == 0, out.stderr
    for metric in ("hit@1", "hit@5", "MRR", "highlight accuracy", "abstention", "false abstention"):
        assert metric in out.stdout
