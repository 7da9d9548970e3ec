from __future__ import annotations

import json
import os

import numpy as np
import pytest

from qa import store as index_io
from qa.bot import Bot
from qa.errors import BadIndexError, SaveError
from qa.store import IndexSettings
from qa.store.lexical import Lexical

from ..conftest import BAKING, build_bot


def test_persistence_round_trip(tiny_corpus, tmp_path, embedder):
    built = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode)
    index_io.save(built, tmp_path / "ix")
    loaded = index_io.load(tmp_path / "ix")
    assert loaded.chunks == built.chunks
    np.testing.assert_array_equal(loaded.groups, built.groups)
    np.testing.assert_allclose(loaded.chunk_vectors, built.chunk_vectors)
    np.testing.assert_allclose(loaded.sentence_vectors, built.sentence_vectors)
    np.testing.assert_array_equal(loaded.sentences, built.sentences)
    tokens = ["robot", "china"]
    np.testing.assert_allclose(loaded.lexical.scores(tokens), built.lexical.scores(tokens))
    m = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert m["settings"]["model"] == embedder.name and m["dimension"] == 384
    assert set(m["corpus_files"]) == {"robots.md", "baking.txt", "geo/rivers.txt"}
    assert m["format_version"] == index_io.FORMAT_VERSION


def _load(corpus, ix, capsys_or_status):
    return Bot.load(corpus=corpus, index=ix, on_status=capsys_or_status.append)


def test_fresh_index_is_reused_and_stale_index_rebuilt_with_reason(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    said: list[str] = []
    _load(tiny_corpus, ix, said)
    assert not any("Building" in s for s in said)

    (tiny_corpus / "baking.txt").write_text(BAKING + "\nRest the dough overnight in the fridge.\n", encoding="utf-8")
    said.clear()
    bot = _load(tiny_corpus, ix, said)
    reasons = [s for s in said if "Updating" in s]
    assert len(reasons) == 1 and "1 changed file (baking.txt)" in reasons[0]
    assert not any("Building" in s for s in said)
    assert any("overnight" in c.text for c in bot.index.chunks)
    assert bot.index.manifest["embedded_documents"] == 1  # only the changed file was embedded

    (tiny_corpus / "new.txt").write_text("Volcanoes erupt when magma rises.", encoding="utf-8")
    said.clear()
    _load(tiny_corpus, ix, said)
    assert any("1 new file (new.txt)" in s for s in said)


def test_other_model_or_settings_trigger_rebuild(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    m = index_io.read_manifest(ix)
    assert index_io.staleness(m, IndexSettings(model="BAAI/bge-small-en-v1.5"), index_io.file_hashes(tiny_corpus)).startswith(
        "it was built with model")
    from qa.ingest.chunking import ChunkSettings

    assert "chunking" in index_io.staleness(m, IndexSettings(model=embedder.name, chunking=ChunkSettings(300, 50)),
                                             index_io.file_hashes(tiny_corpus))


@pytest.mark.parametrize("damage", ["truncate_faiss", "garble_chunks", "delete_bm25", "garble_manifest"])
def test_corrupted_index_is_detected_and_rebuilt(tiny_corpus, tmp_path, embedder, damage):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    if damage == "truncate_faiss":
        p = ix / "chunks.faiss"
        p.write_bytes(p.read_bytes()[:100])
    elif damage == "garble_chunks":
        with open(ix / "chunks.jsonl", "a") as f:
            f.write("{not json\n")
    elif damage == "delete_bm25":
        for p in (ix / "bm25").iterdir():
            p.unlink()
    else:
        (ix / "manifest.json").write_text("{oops")
    with pytest.raises(BadIndexError):
        index_io.load(ix) if damage != "garble_manifest" else index_io.read_manifest(ix)
    said: list[str] = []
    bot = _load(tiny_corpus, ix, said)
    assert len([s for s in said if "Building" in s]) == 1
    assert not bot.ask("How many robots did China install?").abstained
    index_io.load(ix)  # healthy again


def test_interrupted_build_keeps_the_previous_index(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    before = (ix / "manifest.json").read_bytes()
    def dying_encode(texts, **kw):
        embedder.encode(texts[:len(texts) // 2], **kw)  # half the texts embedded, then the process is stopped
        raise KeyboardInterrupt

    (tiny_corpus / "extra.txt").write_text("Tea is grown on hillsides in Darjeeling.", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        index_io.save(index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), dying_encode), ix)
    assert (ix / "manifest.json").read_bytes() == before
    index_io.load(ix)
    assert not list(tmp_path.glob("ix.tmp-*"))


def test_interrupted_save_leaves_no_half_written_index(tiny_corpus, tmp_path, embedder, monkeypatch):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    before = (ix / "manifest.json").read_bytes()
    built = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode)

    def disk_full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Lexical, "save", disk_full)  # fails midway through writing the new folder
    with pytest.raises(SaveError, match=r"No space left on device\); the previous index is intact"):
        index_io.save(built, ix)
    assert (ix / "manifest.json").read_bytes() == before
    assert not list(tmp_path.glob("ix.tmp-*"))


def test_index_parked_by_an_interrupted_swap_is_restored(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    os.replace(ix, tmp_path / "ix.old-abc123")  # the instant between the two renames
    index_io.recover(ix)
    assert index_io.load(ix).chunks


def test_a_folder_that_is_not_an_index_is_never_replaced(tiny_corpus, tmp_path, embedder):
    precious = tmp_path / "Documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    built = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode)
    with pytest.raises(BadIndexError, match="is not a qa index"):
        index_io.save(built, precious)
    assert (precious / "thesis.txt").read_text() == "do not delete"


def test_manifest_that_is_json_but_not_a_manifest_is_rebuilt(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    (ix / "manifest.json").write_text("[]")
    said: list[str] = []
    Bot.load(corpus=tiny_corpus, index=ix, on_status=said.append)
    assert any("damaged" in s for s in said), said
    index_io.load(ix)


# ---------------------------------------------------------------- summed passage vectors (issue 12)

def test_summed_passage_vectors_are_one_pass_and_close_to_encoded(tiny_corpus, tmp_path, embedder, monkeypatch):
    """``passage_vectors="summed"`` embeds the sentences only: their vectors are exactly those of the
    two-pass build, and each passage's is the normalised sum of its sentences' token vectors."""
    calls = []
    real = embedder.encode_sums
    monkeypatch.setattr(embedder, "encode_sums", lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw))
    exact = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name), embedder.encode)
    summed = index_io.build_from_folder(tiny_corpus, IndexSettings(model=embedder.name, passage_vectors="summed"), embedder.encode)
    assert calls and calls[0] == len(summed.sentences)  # the sentences' pass (titles are a second, tiny one)
    assert summed.chunks == exact.chunks
    np.testing.assert_allclose(summed.sentence_vectors, exact.sentence_vectors, atol=2e-3)  # bfloat16 rounding
    cos = (summed.chunk_vectors * exact.chunk_vectors).sum(axis=1)
    assert cos.min() > 0.7 and cos.mean() > 0.85, cos
    np.testing.assert_allclose(np.linalg.norm(summed.chunk_vectors, axis=1), 1.0, atol=1e-5)
    # It is recorded, so a reload keeps it and a change of mind rebuilds.
    index_io.save(summed, tmp_path / "ix")
    m = index_io.read_manifest(tmp_path / "ix")
    assert index_io.load(tmp_path / "ix").settings.passage_vectors == "summed"
    assert "passage_vectors" in index_io.staleness(m, IndexSettings(model=embedder.name), index_io.file_hashes(tiny_corpus))
    bot = Bot(summed, embedder)
    assert "flour" in bot.ask("How much flour goes into the bread?").citations[0].passage.lower()


def test_default_manifest_has_no_passage_vectors_key(tiny_corpus, embedder, monkeypatch):
    """Indexes written before the choice existed stay valid: the default adds nothing to the settings."""
    monkeypatch.delenv("QA_PASSAGE_VECTORS", raising=False)
    assert "passage_vectors" not in IndexSettings(model=embedder.name).to_dict()


def test_an_index_keeps_its_passage_vectors_unless_told_otherwise(tiny_corpus, tmp_path, monkeypatch):
    """`qa index --passage-vectors summed` is not undone by the next `qa ask`, which does not say."""
    monkeypatch.delenv("QA_PASSAGE_VECTORS", raising=False)
    ix = tmp_path / "ix"
    Bot.load(corpus=tiny_corpus, index=ix, passage_vectors="summed", on_status=lambda m: None)
    messages: list[str] = []
    again = Bot.load(corpus=tiny_corpus, index=ix, on_status=messages.append)
    assert again.index.settings.passage_vectors == "summed" and not any("Building" in m for m in messages), messages
    back = Bot.load(corpus=tiny_corpus, index=ix, passage_vectors="encoded", on_status=messages.append)
    assert back.index.settings.passage_vectors == "encoded" and any("Building" in m for m in messages)


def test_model_that_does_not_mean_pool_falls_back_to_two_passes(tiny_corpus, tmp_path):
    """A CLS-pooled model cannot sum token vectors into a passage: "summed" embeds both, as "encoded" does."""
    from sentence_transformers import SentenceTransformer, models

    from qa.embed.embedder import Embedder, model_location

    base = model_location("sentence-transformers/all-MiniLM-L6-v2")
    word = models.Transformer(base)
    cls = SentenceTransformer(modules=[word, models.Pooling(word.auto_model.config.hidden_size, pooling_mode="cls")])
    cls.save(str(tmp_path / "cls-model"))
    e = Embedder(str(tmp_path / "cls-model"))
    assert not e.sums_tokens
    ix = index_io.build_from_folder(tiny_corpus, IndexSettings(model=e.name, passage_vectors="summed"), e.encode)
    own = e.encode([index_io.embed_text(c.title, c.text, True) for c in ix.chunks[:3]])
    assert ((ix.chunk_vectors[:3] * own).sum(axis=1) > 0.999).all()  # each passage's own vector (bfloat16 rounding aside)


def test_unknown_passage_vectors_is_one_clear_line(monkeypatch, tiny_corpus, tmp_path):
    from qa.errors import CorpusError

    monkeypatch.setenv("QA_PASSAGE_VECTORS", "fastest")
    with pytest.raises(CorpusError, match="'fastest' are not known: use one of encoded, summed"):
        IndexSettings(model="m")
