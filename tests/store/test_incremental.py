"""Incremental updates: only new or changed files are embedded, the result is what a rebuild
gives, and a process killed in the middle of an update leaves the previous index loadable."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from qa import store as index_io
from qa.bot import Bot
from qa.store import IndexSettings

from ..conftest import BAKING, ROOT, build_bot, write_corpus


class CountingEncoder:
    """The real encoder, counting what it is asked to embed."""

    def __init__(self, embedder):
        self.embedder, self.texts = embedder, 0

    def __call__(self, texts, **kw):
        self.texts += len(texts)
        return self.embedder.encode(texts)


def test_changed_file_is_the_only_one_embedded_and_equals_a_rebuild(tiny_corpus, tmp_path, embedder):
    settings = IndexSettings(model=embedder.name)
    old = index_io.build_from_folder(tiny_corpus, settings, embedder.encode)
    (tiny_corpus / "baking.txt").write_text(BAKING + "\nRest the dough overnight in the fridge.\n", encoding="utf-8")
    (tiny_corpus / "geo" / "rivers.txt").unlink()
    (tiny_corpus / "volcanoes.txt").write_text("Volcanoes\n\nMagma rises through cracks in the crust.\n", encoding="utf-8")
    enc = CountingEncoder(embedder)
    hashes = index_io.file_hashes(tiny_corpus)
    updated = index_io.refresh(old, tiny_corpus, enc, hashes)
    fresh = index_io.build_from_folder(tiny_corpus, settings, embedder.encode)
    changed_texts = sum(len(c.text) > 0 for c in fresh.chunks if c.source in {"baking.txt", "volcanoes.txt"})
    changed_sentences = sum(1 for r in fresh.sentences if fresh.docs[r[0]].source in {"baking.txt", "volcanoes.txt"})
    assert enc.texts == changed_texts + changed_sentences  # nothing else was embedded
    assert updated.documents == fresh.documents == ["baking.txt", "robots.md", "volcanoes.txt"]
    assert [(c.source, c.start, c.end, c.text) for c in updated.chunks] == [(c.source, c.start, c.end, c.text) for c in fresh.chunks]
    assert np.array_equal(updated.sentences, fresh.sentences)
    # Equal to bfloat16's rounding, which moves with what a text is batched with (float32: to 1e-7).
    assert np.allclose(updated.chunk_vectors, fresh.chunk_vectors, atol=2e-3)
    assert np.allclose(updated.sentence_vectors, fresh.sentence_vectors, atol=2e-3)
    assert np.array_equal(updated.groups, fresh.groups)


def test_unchanged_corpus_loads_with_zero_embeddings(tiny_corpus, tmp_path, embedder):
    build_bot(tiny_corpus, tmp_path / "ix", embedder)
    said: list[str] = []
    bot = Bot.load(corpus=tiny_corpus, index=tmp_path / "ix", on_status=said.append)
    assert not any("Building" in s or "Updating" in s for s in said)
    assert bot.index.manifest["embedded_documents"] == 3  # as built, not re-embedded


def test_a_renamed_file_reuses_its_vectors(tiny_corpus, tmp_path, embedder):
    bot = build_bot(tiny_corpus, tmp_path / "ix", embedder)
    os.replace(tiny_corpus / "baking.txt", tiny_corpus / "bread.txt")
    enc = CountingEncoder(embedder)
    updated = index_io.refresh(bot.index, tiny_corpus, enc, index_io.file_hashes(tiny_corpus))
    assert enc.texts == 0 and "bread.txt" in updated.documents and "baking.txt" not in updated.documents
    assert all(c.source == "bread.txt" for c in updated.chunks if "sourdough" in c.text.lower())


def test_add_and_remove_persist_like_a_rebuild(tiny_corpus, tmp_path, embedder):
    bot = build_bot(tiny_corpus, tmp_path / "ix", embedder)
    outside = write_corpus(tmp_path / "elsewhere", {"ferry.md": "# Ferries\n\nThe winter ferry leaves at 7:15 from the north pier.\n"})
    assert bot.add([outside / "ferry.md"]) == []
    assert (tiny_corpus / "ferry.md").exists()  # copied into the corpus, the original untouched
    assert (outside / "ferry.md").exists()
    assert bot.ask("When does the winter ferry leave?").citations[0].source == "ferry.md"
    bot.remove("robots.md")
    assert not (tiny_corpus / "robots.md").exists() and (tiny_corpus / ".qa-removed" / "robots.md").exists()
    said: list[str] = []
    again = Bot.load(corpus=tiny_corpus, index=tmp_path / "ix", on_status=said.append)
    assert not any("Building" in s or "Updating" in s for s in said)  # what add/remove saved is current
    assert set(again.index.documents) == {"baking.txt", "geo/rivers.txt", "ferry.md"}
    with pytest.raises(Exception, match="No document"):
        again.remove("robots.md")


def test_cli_add_and_remove(tiny_corpus, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    qa = [sys.executable, "-m", "qa"]
    note = write_corpus(tmp_path / "in", {"tides.txt": "Tides\n\nSpring tides come twice a month, after new and full moon.\n"})
    out = subprocess.run(qa + ["add", str(note / "tides.txt"), "--corpus", str(tiny_corpus)], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "tides.txt" in out.stdout, out.stderr
    out = subprocess.run(qa + ["sources", "--corpus", str(tiny_corpus)], env=env, capture_output=True, text=True, cwd=ROOT)
    assert "tides.txt\ttext\tTides" in out.stdout
    out = subprocess.run(qa + ["remove", "tides.txt", "--corpus", str(tiny_corpus)], env=env, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "Removed tides.txt" in out.stdout
    out = subprocess.run(qa + ["remove", "nope.txt", "--corpus", str(tiny_corpus)], env=env, capture_output=True, text=True, cwd=ROOT)
    errors = [line for line in out.stderr.splitlines() if line.startswith("qa:")]
    assert out.returncode == 1 and len(errors) == 1 and "No document 'nope.txt'" in errors[0]
    assert "Traceback" not in out.stderr


def test_kill_9_during_an_update_leaves_the_previous_index_loadable(tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    before = index_io.load(ix).documents
    seen = _kill_qa_index_while_embedding(tiny_corpus, ix)
    assert "Updating the index" in seen, seen[-500:]
    index_io.recover(ix)
    assert index_io.load(ix).documents == before  # the previous index, whole
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=lambda m: None)  # and the next start finishes the job
    assert "log.txt" in bot.index.documents


def test_kill_9_during_a_first_build_leaves_no_index_and_the_next_start_builds_it(tiny_corpus, tmp_path):
    ix = tmp_path / "ix"
    seen = _kill_qa_index_while_embedding(tiny_corpus, ix)
    assert "Building the index" in seen, seen[-500:]
    index_io.recover(ix)
    assert not (ix / index_io.MANIFEST).exists()  # nothing half-written passes for an index
    assert not list(tmp_path.glob("ix.tmp-*"))
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=lambda m: None)
    assert "log.txt" in bot.index.documents and "robots.md" in bot.index.documents


def _kill_qa_index_while_embedding(corpus, ix) -> str:
    """Add a large file to ``corpus``, run `qa index`, kill -9 it while it embeds; its stderr so far."""
    long = "\n\n".join(f"Paragraph {i}. The lighthouse keeper logged {i} ships passing the reef in week {i}." for i in range(3000))
    (corpus / "log.txt").write_text("Keeper's Log\n\n" + long, encoding="utf-8")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "qa", "index", str(corpus), "--index", str(ix)],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline:
        seen += proc.stderr.read(1)
        if "Embedding" in seen:
            break
    assert "Embedding" in seen, seen[-500:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return seen
