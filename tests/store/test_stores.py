"""One ``Store`` interface, two backends: the same tests against the FAISS folder and a real Milvus Lite
file. Each opens a small corpus through ``Bot.load``, answers from it, opens it again without embedding,
follows a changed folder, and says in one line what it cannot do."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from qa.answer.query import fold_history
from qa.bot import Bot
from qa.errors import CorpusError
from qa.store import FaissStore, Store
from qa.store.faiss import FaissSearch

from ..conftest import BAKING

BACKENDS = ["faiss", pytest.param("milvus", marks=pytest.mark.skipif(
    importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None,
    reason='needs the milvus extra: pip install "qa[milvus]" (make test installs it)'))]
QUESTION = "How many industrial robots did China install?"


def _open(backend: str, corpus, where, messages: list[str] | None = None) -> Bot:
    say = messages.append if messages is not None else (lambda m: None)
    if backend == "faiss":
        return Bot.load(corpus=corpus, index=where / "index", on_status=say)
    return Bot.load(corpus=corpus, milvus_uri=str(where / "index.db"), on_status=say)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_a_store_opens_builds_and_answers_as_the_other_does(backend, tiny_corpus, tmp_path):
    messages: list[str] = []
    bot = _open(backend, tiny_corpus, tmp_path, messages)
    assert isinstance(bot.store, Store) and bot.store.where
    assert any("Building the index of" in m for m in messages), messages
    answer = bot.ask(QUESTION)
    assert not answer.abstained and "276,000" in answer.citations[0].passage
    # The reference: a FAISS folder built from the same files gives the same citations and highlights.
    reference = _open("faiss", tiny_corpus, tmp_path / "reference")
    same = reference.ask(QUESTION)
    assert [(c.source, c.start, c.end, c.highlight) for c in answer.citations] == \
           [(c.source, c.start, c.end, c.highlight) for c in same.citations]


def test_a_store_reopens_without_embedding_and_follows_a_changed_folder(backend, tiny_corpus, tmp_path):
    _open(backend, tiny_corpus, tmp_path)
    messages: list[str] = []
    again = _open(backend, tiny_corpus, tmp_path, messages)
    assert not any("Building" in m or "Updating" in m for m in messages), messages
    assert not again.store.rebuilt
    (tiny_corpus / "tea.txt").write_text("Green tea is steeped at eighty degrees for two minutes.", encoding="utf-8")
    messages.clear()
    changed = _open(backend, tiny_corpus, tmp_path, messages)
    assert any("Updating" in m or "Building" in m for m in messages), messages
    assert "tea.txt" in changed.index.documents and "eighty degrees" in changed.ask("How hot should green tea water be?").citations[0].passage


def test_a_store_either_takes_a_document_or_says_in_one_line_why_not(backend, tiny_corpus, tmp_path):
    bot = _open(backend, tiny_corpus, tmp_path)
    extra = tmp_path / "outside" / "bread.txt"
    extra.parent.mkdir()
    extra.write_text(BAKING.replace("Sourdough", "Rye"), encoding="utf-8")
    if backend == "milvus":
        with pytest.raises(CorpusError) as err:
            bot.add(extra)
        assert "\n" not in str(err.value) and "qa index --milvus-uri" in str(err.value)
        return
    assert bot.add(extra) == []
    assert "bread.txt" in bot.index.documents and (tiny_corpus / "bread.txt").exists()


def test_each_store_gives_the_retriever_the_same_candidates(tiny_corpus, tmp_path, embedder):
    """The Search half of the interface: Milvus's candidate lists hold FAISS's (exact search on both)."""
    if importlib.util.find_spec("milvus_lite") is None:
        pytest.skip('needs the milvus extra: pip install "qa[milvus]"')
    faiss_bot, milvus_bot = _open("faiss", tiny_corpus, tmp_path), _open("milvus", tiny_corpus, tmp_path)
    v = embedder.encode_queries([QUESTION])[0]
    tokens = fold_history(QUESTION, None).tokens
    local = FaissSearch(faiss_bot.index).candidates(v, tokens, 5, 10)
    remote = milvus_bot.store.search(milvus_bot.index).candidates(v, tokens, 5, 10)
    assert set(local[0].tolist()) == set(remote[0].tolist())
    order_l, order_r = np.argsort(local[0]), np.argsort(remote[0])
    np.testing.assert_allclose(local[1][order_l], remote[1][order_r], rtol=1e-4)
    assert local[3] == remote[3]


def test_a_sessions_store_keeps_its_changes_in_memory(tiny_corpus, tmp_path):
    bot = _open("faiss", tiny_corpus, tmp_path)
    session = bot.session()
    assert isinstance(session.store, FaissStore) and session.store.path is None and bot.store.path is not None
    saved = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "index").iterdir()}
    extra = tmp_path / "tea.txt"
    extra.write_text("Green tea is steeped at eighty degrees for two minutes.", encoding="utf-8")
    assert session.add(extra) == []
    assert "uploads/tea.txt" in session.index.documents and "uploads/tea.txt" not in bot.index.documents
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "index").iterdir()} == saved
