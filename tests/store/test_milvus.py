"""The index kept in Milvus: the real engine (Milvus Lite, in a file the test makes), the shipped corpus."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from qa.bot import Bot
from qa.errors import BadIndexError, CorpusError
from qa.evaluate.labeled import evaluate_labeled, load_questions

from ..conftest import ROOT
from ..serve.test_cli import qa

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

QUESTIONS = load_questions(ROOT / "tests" / "data" / "questions.jsonl")


@pytest.fixture(scope="module")
def milvus_bot(tmp_path_factory):
    db = tmp_path_factory.mktemp("milvus") / "shipped.db"
    messages: list[str] = []
    bot = Bot.load(corpus=ROOT / "corpus", milvus_uri=str(db), on_status=messages.append)
    assert any("Building the index of" in m and "in Milvus" in m for m in messages), messages
    return bot, db


def _count(bot: Bot, collection: str) -> int:
    return int(bot.store.client.query(collection, filter="", output_fields=["count(*)"])[0]["count(*)"])


def test_shipped_corpus_in_milvus_answers_like_the_faiss_store(milvus_bot, shipped_bot):
    bot, _ = milvus_bot
    assert _count(bot, bot.store.passages) == len(shipped_bot.index.chunks)
    assert _count(bot, bot.store.sentences) == len(shipped_bot.index.sentences)
    here, there = evaluate_labeled(bot, QUESTIONS).metrics(), evaluate_labeled(shipped_bot, QUESTIONS).metrics()
    assert abs(here["hit@1"] - there["hit@1"]) <= 0.02, (here, there)
    assert here["hit@1"] >= 0.9 and here["abstention rate (unanswerable)"] >= 0.9
    for item in QUESTIONS[:8]:  # and the same citations, in the same order, with the same highlights
        if "question" not in item:
            continue
        a, b = bot.ask(item["question"]), shipped_bot.ask(item["question"])
        assert [(c.source, c.start, c.highlight) for c in a.citations] == [(c.source, c.start, c.highlight) for c in b.citations]
        assert a.abstained == b.abstained and a.text == b.text


def test_reopening_reads_milvus_without_embedding_again(milvus_bot):
    bot, db = milvus_bot
    messages: list[str] = []
    again = Bot.load(corpus=ROOT / "corpus", milvus_uri=str(db), on_status=messages.append)
    assert any("Opening the index in Milvus" in m for m in messages) and not any("Building" in m for m in messages)
    q = "How much did US private AI investment reach in 2024?"
    assert [c.highlight for c in again.ask(q).citations] == [c.highlight for c in bot.ask(q).citations]


def test_documents_cannot_be_added_one_by_one_and_say_what_to_do(milvus_bot, tmp_path):
    bot, _ = milvus_bot
    f = tmp_path / "note.txt"
    f.write_text("A note about nothing in particular.")
    with pytest.raises(CorpusError, match="run `qa index --milvus-uri"):
        bot.session().add([f])


_KILLER = """
import os, signal, sys
from qa.store import milvus
real, n = milvus.MilvusStore._write_segments, [0]
def write_then_die(self, *a, **kw):
    real(self, *a, **kw)
    n[0] += 1
    if n[0] == 3:  # the third batch's rows are in Milvus, but the batch is not yet marked done
        os.kill(os.getpid(), signal.SIGKILL)
milvus.MilvusStore._write_segments = write_then_die
from qa import Bot
Bot.load(corpus=sys.argv[1], milvus_uri=sys.argv[2], on_status=print)
"""


def test_a_killed_build_resumes_where_it_stopped_and_never_duplicates(tmp_path, shipped_bot, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    db = tmp_path / "resume.db"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), QA_MILVUS_BATCH_CHARS="1")  # one batch per document
    killed = subprocess.run([sys.executable, "-c", _KILLER, str(corpus), str(db)], env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9, killed.stderr[-2000:]
    messages: list[str] = []
    monkeypatch.setenv("QA_MILVUS_BATCH_CHARS", "1")
    bot = Bot.load(corpus=corpus, milvus_uri=str(db), on_status=messages.append)
    if not any("it was damaged (the collection" in m for m in messages):  # else the kill cut a file short: built anew
        assert any("an earlier build stopped part way" in m for m in messages), messages
        assert any("Resuming the Milvus build: 2 of 5 batches already stored" in m for m in messages), messages
    # The third batch was written twice (before the kill and again now): its rows replaced, not added.
    assert _count(bot, bot.store.passages) == len(shipped_bot.index.chunks)
    assert _count(bot, bot.store.sentences) == len(shipped_bot.index.sentences)
    assert evaluate_labeled(bot, QUESTIONS).metrics()["hit@1"] == evaluate_labeled(shipped_bot, QUESTIONS).metrics()["hit@1"]


def test_a_damaged_milvus_lite_file_is_built_again_in_one_clear_line(milvus_bot, tmp_path):
    """Milvus Lite's writes are not atomic: a kill -9 mid-write can leave a data file cut short, which
    the engine then cannot open. The next start says so in one line and builds the index again from
    the corpus (which it never touches), with no traceback."""
    _, db = milvus_bot
    damaged = tmp_path / "damaged.db"
    shutil.copytree(db, damaged)
    data = sorted((damaged / "collections" / "qa_passages").rglob("*.parquet"))
    assert data, list(damaged.rglob("*"))
    with open(data[0], "r+b") as f:
        f.truncate(data[0].stat().st_size // 2)
    out = qa("ask", "--milvus-uri", str(damaged), "Why does Musk think China will lead in AI compute?")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "it was damaged (the collection qa_passages cannot be read:" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr + out.stdout and "ERROR" not in out.stderr, out.stderr[-3000:]
    assert "electricity" in out.stdout.lower()
    messages: list[str] = []
    again = Bot.load(corpus=ROOT / "corpus", milvus_uri=str(damaged), on_status=messages.append)
    assert any("Opening the index in Milvus" in m for m in messages) and not any("Building" in m for m in messages)
    assert _count(again, again.store.passages) == len(again.index.chunks)


def test_a_milvus_lite_file_in_use_by_another_process_is_one_clear_line(milvus_bot):
    """Milvus Lite lets one process open a file: this test process holds the module's (its bot is open),
    so ``qa ask`` in another process is refused, in one line that says why and what to do."""
    _, db = milvus_bot
    out = qa("ask", "--milvus-uri", str(db), "Who leads in AI compute?")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.strip().count("\n") == 0 and "is in use by another process" in out.stderr, out.stderr[-2000:]


def test_a_server_never_drops_a_shared_index_built_from_other_files(tmp_path):
    """``app.py`` (replace_stale=False) serves what is in Milvus even when its own folder differs; only
    ``qa index`` (or Bot.load's default) rebuilds it."""
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    db = str(tmp_path / "shared.db")
    first = Bot.load(corpus=corpus, milvus_uri=db, on_status=lambda m: None)
    n = len(first.index.chunks)
    (corpus / "extra.md").write_text("# Extra\n\nThe harbour of Velmora has 14 berths.\n")
    messages: list[str] = []
    served = Bot.load(corpus=corpus, milvus_uri=db, on_status=messages.append, replace_stale=False)
    assert any("serving it as it is" in m for m in messages) and not any("Building" in m for m in messages), messages
    assert len(served.index.chunks) == n and served.ask("Who leads in AI compute?").citations
    rebuilt = Bot.load(corpus=corpus, milvus_uri=db, on_status=messages.append)
    assert any("the corpus or settings changed" in m for m in messages)
    assert rebuilt.index.document("extra.md") is not None


def test_cli_indexes_into_milvus_and_answers_from_it(tmp_path):
    db = tmp_path / "cli.db"
    out = qa("index", "--milvus-uri", str(db))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Index ready" in out.stdout and "168 passages" in out.stdout
    out = qa("ask", "--milvus-uri", str(db), "--json", "Why does Musk think China will lead in AI compute?")
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout)
    assert answer["citations"] and "electricity" in json.dumps(answer["citations"]).lower()


def test_unreachable_milvus_is_one_clear_line(tmp_path):
    with pytest.raises(BadIndexError, match=r"^Cannot reach Milvus at http://127.0.0.1:9 .*Check the URI"):
        Bot.load(corpus=ROOT / "corpus", milvus_uri="http://127.0.0.1:9")
    with pytest.raises(BadIndexError, match="the folder .* does not exist"):
        Bot.load(corpus=ROOT / "corpus", milvus_uri=str(tmp_path / "missing" / "x.db"))
    out = qa("ask", "--milvus-uri", "http://127.0.0.1:9", "Who leads in AI?")
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and out.stderr.startswith("qa: Cannot reach Milvus")
