"""Public-benchmark plumbing on tiny hand-made sets: loaders, chunk → document mapping, scores, CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qa.evaluate import benchmarks as b
from qa.bot import Bot
from qa.store import IndexSettings

from ..conftest import ROOT

DOCS = [
    {"_id": "d1", "title": "Volcanoes", "text": "Magma rises through the crust and erupts as lava from volcanoes."},
    {"_id": "d2", "title": "", "text": "The honey bee dances to tell the hive where flowers are."},
    {"_id": "d3", "title": "Tides", "text": "Tides are caused mainly by the gravitational pull of the Moon."},
    {"_id": "d4", "title": "Long", "text": " ".join(["Filler sentence about nothing in particular."] * 40)
        + " The Krakatoa eruption of 1883 was heard 4,800 kilometres away."},
]
QUERIES = [{"_id": "q1", "text": "what causes tides"}, {"_id": "q2", "text": "how do bees communicate flower locations"},
           {"_id": "q3", "text": "how far away was the Krakatoa eruption heard"}, {"_id": "q4", "text": "unjudged query"}]
QRELS = "query-id\tcorpus-id\tscore\nq1\td3\t2\nq1\td1\t0\nq2\td2\t1\nq3\td4\t1\n"


@pytest.fixture
def beir_dir(tmp_path):
    d = tmp_path / "tiny-beir"
    (d / "qrels").mkdir(parents=True)
    (d / "corpus.jsonl").write_text("\n".join(json.dumps(x) for x in DOCS))
    (d / "queries.jsonl").write_text("\n".join(json.dumps(x) for x in QUERIES))
    (d / "qrels" / "test.tsv").write_text(QRELS)
    return d


@pytest.fixture
def squad_file(tmp_path):
    data = {"version": "v2.0", "data": [{"title": "Sea_Life", "paragraphs": [
        {"context": "Octopuses have three hearts and blue blood.", "qas": [
            {"id": "1", "question": "How many hearts does an octopus have?", "is_impossible": False, "answers": []},
            {"id": "2", "question": "What colour is a shark's blood?", "is_impossible": True, "answers": []}]},
        {"context": "Sea otters hold hands while sleeping so they do not drift apart.", "qas": [
            {"id": "3", "question": "Why do sea otters hold hands?", "is_impossible": False, "answers": []}]}]}]}
    p = tmp_path / "squad.json"
    p.write_text(json.dumps(data))
    return p


def test_beir_loader_reads_corpus_queries_and_graded_qrels(beir_dir):
    data = b.load_beir(beir_dir)
    assert [d.source for d in data.documents] == ["d1", "d2", "d3", "d4"]
    assert data.documents[0].title == "Volcanoes" and data.documents[1].title == ""
    assert data.qrels == {"q1": {"d3": 2, "d1": 0}, "q2": {"d2": 1}, "q3": {"d4": 1}}


def test_squad_loader_makes_one_document_per_paragraph(squad_file):
    data = b.load_squad(squad_file)
    assert [d.source for d in data.documents] == ["Sea_Life/0", "Sea_Life/1"]
    assert data.documents[0].title == "Sea Life"
    assert data.answerable == [("How many hearts does an octopus have?", "Sea_Life/0"), ("Why do sea otters hold hands?", "Sea_Life/1")]
    assert data.unanswerable == [("What colour is a shark's blood?", "Sea_Life/0")]


def test_bot_ranks_documents_and_maps_chunks_back(beir_dir, embedder, tmp_path):
    data = b.load_beir(beir_dir)
    index = b.open_or_build(data.documents, IndexSettings(model=embedder.name), embedder.encode, "tiny", cache=tmp_path)
    assert len(index.chunks) > len(data.documents)  # the long document was cut into several chunks
    ranker = b.BotRanker(Bot(index, embedder))
    ranked = ranker.rank("how far away was the Krakatoa eruption heard", 10)
    assert ranked[0] == "d4" and len(ranked) == len(set(ranked)) == 4
    scores = b.beir_scores(ranker, data)
    assert scores["queries"] == 3  # q4 has no judgements
    assert scores["MRR@10"] == 1.0 and scores["nDCG@10"] == pytest.approx(1.0)
    again = b.open_or_build(data.documents, IndexSettings(model=embedder.name), embedder.encode, "tiny", cache=tmp_path)
    assert again.manifest["built_at"] == index.manifest["built_at"]  # served from the cache


def test_squad_scores_report_recall_and_abstention(squad_file, embedder, tmp_path):
    data = b.load_squad(squad_file)
    bot = Bot(b.open_or_build(data.documents, IndexSettings(model=embedder.name), embedder.encode, "sq", cache=tmp_path), embedder)
    scores = b.squad_scores(b.BotRanker(bot), data)
    assert scores["recall@1"] == 1.0 and scores["questions"] == 2
    assert 0.0 <= scores["abstention (unanswerable)"] <= 1.0


def test_cli_eval_beir_prints_the_metrics(beir_dir, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "qa", "eval", "--beir", str(beir_dir)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for metric in ("nDCG@10", "nDCG@10 (leaderboard)", "recall@10", "MRR@10"):
        assert metric in out.stdout


def test_cli_eval_on_a_folder_that_is_not_beir_is_one_clear_line(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "qa", "eval", "--beir", str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "is not a BEIR folder" in out.stderr and "Traceback" not in out.stderr
