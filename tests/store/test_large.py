"""The large-index layout (records as columns, float16 vectors on disk, IVF search), forced on small
collections with ``QA_ANN_FROM`` so that it is tested with the real model, FAISS and files."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from qa import store as index_io
from qa.bot import Bot
from qa.errors import BadIndexError
from qa.evaluate.labeled import evaluate_labeled, load_questions
from qa.store import IndexSettings, freshness
from qa.store.records import SentenceLists

from ..conftest import ROOT, write_corpus


@pytest.fixture
def large(monkeypatch):
    monkeypatch.setenv("QA_ANN_FROM", "1")


def test_large_layout_round_trip(large, tiny_corpus, tmp_path, embedder):
    built = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode)
    index_io.save(built, tmp_path / "ix")
    files = {p.name for p in (tmp_path / "ix").iterdir()}
    assert {"chunks.npy", "terms.txt", "chunks.f16.npy", "sentences.f16.npy", "chunks.ivf"} <= files
    assert not files & {"chunks.jsonl", "chunks.faiss", "sentences.faiss"}
    loaded = index_io.load(tmp_path / "ix")
    assert loaded.manifest["layout"] == "large" and loaded.ivf.ntotal == len(built.chunks)
    assert loaded.chunks == built.chunks and list(loaded.terms) == list(built.terms)
    np.testing.assert_array_equal(loaded.groups, built.groups)
    np.testing.assert_array_equal(loaded.sentences, built.sentences)
    assert isinstance(loaded.chunk_vectors, np.memmap) and loaded.chunk_vectors.dtype == np.float16
    np.testing.assert_allclose(loaded.chunk_vectors, built.chunk_vectors, atol=1e-3)
    np.testing.assert_allclose(loaded.sentence_vectors, built.sentence_vectors, atol=1e-3)
    assert all(loaded.chunks_of(d.source) == built.chunks_of(d.source) for d in built.docs)
    c = built.chunks[2]
    assert loaded.chunk_at(c.source, c.start, c.end) == 2 and loaded.chunk_at(c.source, c.start, c.end + 1) is None


def test_large_layout_answers_the_labeled_set_as_the_flat_index(large, shipped_bot, tmp_path):
    """The committed (flat) index saved in the large layout: same hit@1, same first citations."""
    index_io.save(replace(shipped_bot.index), tmp_path / "ix")  # a copy: saving sets the IVF on what it saves
    bot = Bot(index_io.load(tmp_path / "ix"), shipped_bot.embedder, ROOT / "corpus", tmp_path / "ix")
    assert bot.index.ivf is not None and bot.retriever.store_search._sentences is None  # no search over every sentence
    items = load_questions(ROOT / "tests" / "data" / "questions.jsonl")
    flat, large_ = evaluate_labeled(shipped_bot, items), evaluate_labeled(bot, items)
    assert abs(flat.metrics()["hit@1"] - large_.metrics()["hit@1"]) <= 0.02
    for item in items[:10]:
        q = item.get("question") or item["turns"][0]
        a, b = shipped_bot.ask(q), bot.ask(q)
        assert a.abstained == b.abstained
        if not a.abstained:
            assert (a.citations[0].source, a.citations[0].start, a.citations[0].highlight) == \
                   (b.citations[0].source, b.citations[0].start, b.citations[0].highlight)


def test_a_large_index_takes_updates(large, tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    index_io.save(index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode), ix)
    bot = Bot(index_io.load(ix), embedder, tiny_corpus, ix)
    before = bot.index.ivf
    extra = write_corpus(tmp_path / "new", {"volcano.txt": "Volcanoes erupt when magma rises through the crust."})
    bot.add(extra / "volcano.txt")
    again = index_io.load(ix)
    # Kept beside the saved index (tests/store/test_layers.py): its IVF is the one saved, untouched.
    assert again.manifest["layout"] == "large" and again.layers is not None and again.ivf.ntotal == before.ntotal
    assert again.passages == before.ntotal + 1
    answer = Bot(again, embedder, tiny_corpus, ix).ask("Why do volcanoes erupt?")
    assert answer.citations[0].source == "volcano.txt"
    assert index_io.compact(again, ix).layers is None
    merged = index_io.load(ix)
    assert merged.layers is None and merged.ivf.ntotal == len(merged.chunks) == before.ntotal + 1
    # Refilled, not trained again: the same lists, now holding every passage of the updated collection.
    assert merged.ivf.nlist == before.nlist
    np.testing.assert_array_equal(merged.ivf.quantizer.reconstruct_n(0, merged.ivf.nlist), before.quantizer.reconstruct_n(0, before.nlist))


def test_an_ivf_is_trained_anew_when_the_collection_outgrows_its_lists():
    from qa.store.vectors import lists_for, refill_ivf, sampled_recall, train_ivf

    rng = np.random.default_rng(5)  # topics: 60 centres, passages scattered around them
    centres = rng.standard_normal((60, 32))
    vectors = (centres[rng.integers(0, 60, 3000)] + 0.3 * rng.standard_normal((3000, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    trained = train_ivf(vectors[:1000])
    refilled = refill_ivf(trained, vectors[:1200])
    assert refilled is not None and refilled.ntotal == 1200 and refilled.nlist == trained.nlist
    assert trained.ntotal == 1000  # the original is left as it was (the serving bot still searches it)
    _, ids = refilled.search(vectors[1100:1101], 1)
    assert ids[0][0] == 1100  # a passage added by the refill is found
    assert sampled_recall(refilled, vectors[:1200]) >= 0.95
    assert lists_for(3000) / trained.nlist > 1.5 and refill_ivf(trained, vectors) is None
    assert refill_ivf(None, vectors) is None


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_a_damaged_vector_file_is_caught_by_its_sampled_checksum(large, tiny_corpus, tmp_path, embedder, monkeypatch, damage):
    monkeypatch.setattr(freshness, "SAMPLE_FROM", 0)  # spot-check every file, as a large index's vectors are
    ix = tmp_path / "ix"
    index_io.save(index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode), ix)
    assert json.loads((ix / "manifest.json").read_text())["checksums"]["sentences.f16.npy"].startswith(index_io.SAMPLED)
    p = ix / "sentences.f16.npy"
    data = bytearray(p.read_bytes())
    if damage == "truncate":
        p.write_bytes(bytes(data[:-768]))
    else:
        data[len(data) // 2] ^= 0xFF
        p.write_bytes(bytes(data))
    with pytest.raises(BadIndexError, match="sentences.f16.npy"):
        index_io.load(ix)


def test_sentence_lists_hold_each_sentence_in_every_chunk_it_spans():
    rng = np.random.default_rng(0)
    first = np.sort(rng.integers(0, 40, size=200))
    last = np.minimum(first + rng.integers(0, 3, size=200), 41)
    rows = np.column_stack([np.zeros(200), np.arange(200), np.arange(200) + 1, first, last]).astype(np.int32)
    lists = SentenceLists.of(rows, 42)
    expected = [[s for s in range(200) if first[s] <= c <= last[s]] for c in range(42)]
    assert [list(x) for x in lists] == expected and list(lists.lengths()) == [len(e) for e in expected]


def test_an_index_that_outgrew_its_layout_is_saved_again_once(tiny_corpus, tmp_path, embedder, monkeypatch):
    ix = tmp_path / "ix"
    index_io.save(index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode), ix)
    assert "layout" not in json.loads((ix / "manifest.json").read_text())
    monkeypatch.setenv("QA_ANN_FROM", "1")
    said: list[str] = []
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=said.append)
    assert any("large layout" in s for s in said) and not any("Embedding" in s or "Building" in s for s in said)
    assert json.loads((ix / "manifest.json").read_text())["layout"] == "large" and bot.index.ivf is not None
    said.clear()
    Bot.load(corpus=tiny_corpus, index=ix, on_status=said.append)
    assert not any("layout" in s for s in said)
    assert bot.ask("How many robots did China install?").citations[0].source == "robots.md"


def test_a_loaded_large_index_saved_again_still_loads(large, tiny_corpus, tmp_path, embedder):
    """A tokenizer upgrade or a new calibration re-saves an index as loaded: its IVF must survive."""
    ix = tmp_path / "ix"
    index_io.save(index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode), ix)
    first = index_io.load(ix)
    index_io.save(first, ix)
    again = index_io.load(ix)
    assert again.ivf.ntotal == len(again.chunks) == len(first.chunks) and list(again.terms) == list(first.terms)
    bot = Bot(again, embedder, tiny_corpus, ix)
    assert bot.ask("How many robots did China install?").citations[0].source == "robots.md"
