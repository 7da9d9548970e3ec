"""A large index changed without a rebuild: a delta beside its saved files, tombstones for what was
removed, searched as one index, saved atomically, merged by ``qa index --compact``. Forced on small
collections with ``QA_ANN_FROM``, with the real model, FAISS, bm25s and files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from qa import store as index_io
from qa.bot import Bot
from qa.serve.sessions import Libraries
from qa.store.lexical import tokenize

from ..conftest import ROOT, build_bot, write_corpus

VOLCANO = "Volcanoes\n\nVolcanoes erupt when magma rises through cracks in the crust. Cooled lava becomes basalt.\n"
QUESTIONS = ["Why do volcanoes erupt?", "How many robots did China install?", "What is the longest river?",
             "How long should sourdough rise?", "What does cooled lava become?"]


@pytest.fixture
def large(monkeypatch):
    monkeypatch.setenv("QA_ANN_FROM", "1")


def _cited(bot: Bot, question: str) -> list[tuple]:
    return [(c.source, c.start, c.end, c.highlight) for c in bot.ask(question).citations]


def _same_answers(a: Bot, b: Bot) -> None:
    """The same citations in the same order, with the same scores (to bfloat16's rounding of the vectors)."""
    for q in QUESTIONS:
        x, y = a.ask(q), b.ask(q)
        assert _cited(a, q) == _cited(b, q), q
        assert np.allclose([c.score for c in x.citations], [c.score for c in y.citations], atol=5e-3), q


def test_an_update_is_a_delta_and_searches_as_a_rebuild(large, tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    bot = build_bot(tiny_corpus, ix, embedder)
    saved = {p.name: p.stat().st_mtime_ns for p in ix.iterdir() if p.is_file() and p.name != "manifest.json"}
    bot.add(write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt")
    bot.remove("baking.txt")
    (tiny_corpus / "geo" / "rivers.txt").write_text("The Longest Rivers\n\nThe Nile is about 6,650 km long.\n", encoding="utf-8")
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=lambda m: None)  # the changed file found and updated
    # The saved files are as they were: the changes are a delta folder and the manifest.
    assert {p.name: p.stat().st_mtime_ns for p in ix.iterdir() if p.is_file() and p.name != "manifest.json"} == saved
    manifest = json.loads((ix / "manifest.json").read_text())
    assert manifest["delta"]["dead"] == ["baking.txt", "geo/rivers.txt"] and len(list(ix.glob("delta-*"))) == 1
    changed = index_io.load(ix)
    assert changed.layers is not None and changed.documents == ["geo/rivers.txt", "robots.md", "volcano.txt"]

    rebuilt = build_bot(tiny_corpus, tmp_path / "rebuilt", embedder)
    assert changed.passages == len(rebuilt.index.chunks) and changed.manifest["counts"] == rebuilt.index.manifest["counts"]
    _same_answers(Bot(changed, embedder, tiny_corpus, ix), rebuilt)
    # BM25 with the live collection's statistics: the removed passages score nothing, the others as rebuilt.
    tokens = tokenize("volcanoes robots rivers sourdough nile china")
    live = changed.lexical.scores(tokens)
    assert not live[changed.layers.dead_chunks.nonzero()[0]].any()
    by_place = {(c.source, c.start): s for c, s in zip(changed.chunks, live) if (c.source, c.start) in
                {(x.source, x.start) for x in rebuilt.index.chunks}}
    fresh = dict(zip(((c.source, c.start) for c in rebuilt.index.chunks), rebuilt.index.lexical.scores(tokens)))
    assert np.allclose([by_place[k] for k in fresh], list(fresh.values()), atol=1e-5)
    assert changed.lexical.idf(tokens) == pytest.approx(rebuilt.index.lexical.idf(tokens))


def test_removed_and_replaced_text_is_never_found(large, tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    bot = build_bot(tiny_corpus, ix, embedder)
    bot.remove("baking.txt")
    (tiny_corpus / "robots.md").write_text("# Machines\n\nThe harbour crane lifts forty containers an hour.\n", encoding="utf-8")
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=lambda m: None)
    for q in ("How long should sourdough rise?", "How many robots did China install?"):
        assert all(c.source == "geo/rivers.txt" or "crane" in c.passage for c in bot.ask(q).citations)
    assert bot.ask("How many containers does the crane lift?").citations[0].source == "robots.md"
    assert bot.index.document("baking.txt") is None and "robots" not in bot.text("robots.md").lower()


def test_compact_merges_the_changes_into_one_index(large, tiny_corpus, tmp_path, embedder):
    ix = tmp_path / "ix"
    bot = build_bot(tiny_corpus, ix, embedder)
    bot.add(write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt")
    bot.remove("baking.txt")
    before = Bot(index_io.load(ix), embedder, tiny_corpus, ix)
    out = subprocess.run([sys.executable, "-m", "qa", "index", str(tiny_corpus), "--index", str(ix), "--compact"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "QA_ANN_FROM": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Merging the changes" in out.stderr and not list(ix.glob("delta-*"))
    merged = index_io.load(ix)
    assert merged.layers is None and "delta" not in merged.manifest and merged.ivf.ntotal == len(merged.chunks)
    _same_answers(Bot(merged, embedder, tiny_corpus, ix), before)


def test_changes_grown_large_are_merged_in_the_background_while_questions_are_answered(large, tiny_corpus, tmp_path,
                                                                                        embedder, monkeypatch):
    """An addition that makes the changes outgrow the index is saved as a delta at once; the merge runs on a
    thread of its own (held at a gate here, to look at the bot meanwhile), questions are answered throughout,
    and the merged index is saved and served when it is done. A merge that fails leaves the bot serving."""
    import threading

    from qa.errors import SaveError
    from qa.serve.holder import BotHolder, visitor_status
    from qa.store import layers

    monkeypatch.setattr(layers, "COMPACT_FROM", 0)  # any change of this tiny index outgrows it
    monkeypatch.setattr(layers, "COMPACT_SHARE", 0.0)
    ix = tmp_path / "ix"
    bot = build_bot(tiny_corpus, ix, embedder)
    gate, real_merge, failing = threading.Event(), bot.store.merge, []

    def held_merge(index):
        assert gate.wait(120)
        if failing:
            raise SaveError("No space left on device (a test)")
        return real_merge(index)

    monkeypatch.setattr(bot.store, "merge", held_merge)
    bot.add(write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt")
    assert bot.merging and json.loads((ix / "manifest.json").read_text())["delta"]  # the update is saved, as a delta
    assert "merging the collection's changes" in visitor_status(BotHolder.of(bot), None, None)
    assert "basalt" in bot.ask("What does cooled lava become?").citations[0].passage  # answered mid-merge
    before = Bot(index_io.load(ix), embedder, tiny_corpus, ix)
    gate.set()
    assert bot.wait_merged(120)
    assert bot.index.layers is None and not list(ix.glob("delta-*")) and "delta" not in json.loads((ix / "manifest.json").read_text())
    _same_answers(bot, before)

    gate.clear()
    failing.append(True)
    bot.remove("baking.txt")
    assert bot.merging
    gate.set()
    assert bot.wait_merged(120)
    assert bot.index.layers is not None and bot.index.document("baking.txt") is None  # still serving its changes
    assert bot.ask("What does cooled lava become?").citations


def test_a_merge_never_overwrites_a_change_another_process_saved_meanwhile(large, tiny_corpus, tmp_path, embedder,
                                                                          monkeypatch):
    """Two bots on one folder, as a server and a terminal would be: the server's merge, held at a gate, finds a
    delta the other saved while it merged, and drops its merge rather than lose that change; the other's
    change is in the folder, and merging again takes everything."""
    import threading

    from qa.errors import IndexChangedError
    from qa.store import layers

    monkeypatch.setattr(layers, "COMPACT_FROM", 0)
    monkeypatch.setattr(layers, "COMPACT_SHARE", 0.0)
    ix = tmp_path / "ix"
    server = build_bot(tiny_corpus, ix, embedder)
    gate, real_merge = threading.Event(), server.store.merge
    monkeypatch.setattr(server.store, "merge", lambda index: (gate.wait(120), real_merge(index))[1])
    server.add(write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt")
    assert server.merging
    terminal = Bot(index_io.load(ix), embedder, tiny_corpus, ix)
    glacier = write_corpus(tmp_path / "more", {"glacier.txt": "Glaciers\n\nGlaciers carve U-shaped valleys.\n"})
    with monkeypatch.context() as m:
        m.setattr(Bot, "merge_in_background", lambda self: False)  # the terminal's own merge comes later
        terminal.add(glacier / "glacier.txt")
    gate.set()
    assert server.wait_merged(120)
    on_disk = index_io.load(ix)
    assert on_disk.document("glacier.txt") is not None and on_disk.document("volcano.txt") is not None
    assert server.index.layers is not None  # its merge was dropped; it serves what it had
    with pytest.raises(IndexChangedError):  # and a stale merge asked for directly is refused in one line
        index_io.compact(server.index, ix)
    merged = index_io.compact(on_disk, ix)
    assert merged.layers is None and {"glacier.txt", "volcano.txt"} <= set(index_io.load(ix).documents)


def test_qa_add_and_qa_index_merge_grown_changes_after_saving_the_update(large, tiny_corpus, tmp_path, embedder,
                                                                         monkeypatch, capsys):
    """In the terminal the merge comes after the update is saved and reported, and the command waits for it."""
    from qa.serve import cli
    from qa.store import layers

    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    monkeypatch.setattr(layers, "COMPACT_FROM", 0)
    monkeypatch.setattr(layers, "COMPACT_SHARE", 0.0)
    new = write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt"
    assert cli.main(["add", str(new), "--corpus", str(tiny_corpus), "--index", str(ix)]) == 0
    out = capsys.readouterr()
    assert "Added 1 document" in out.out and "Merging the index's changes" in out.err
    merged = index_io.load(ix)
    assert merged.layers is None and not list(ix.glob("delta-*")) and merged.document("volcano.txt") is not None
    (tiny_corpus / "baking.txt").unlink()  # found by `qa index`, saved as a delta, then merged
    assert cli.main(["index", str(tiny_corpus), "--index", str(ix)]) == 0
    assert "grown past a quarter of it" in capsys.readouterr().err
    assert index_io.load(ix).layers is None and index_io.load(ix).document("baking.txt") is None


def test_a_visitors_upload_sits_beside_a_large_shared_index_without_copying_it(large, shipped_bot, tmp_path):
    index_io.save(replace(shipped_bot.index), tmp_path / "ix")
    shared = Bot(index_io.load(tmp_path / "ix"), shipped_bot.embedder, ROOT / "corpus", tmp_path / "ix")
    libs = Libraries(root=tmp_path / "libs")
    upload = write_corpus(tmp_path / "up", {"ferry.md": "# Ferry\n\nThe winter ferry to Skye leaves at 7:40 from Mallaig.\n"})
    lib, added, _ = libs.add(None, shared, [str(upload / "ferry.md")])
    other, _, _ = libs.add(None, shared, [str(write_corpus(tmp_path / "up2", {"tides.md": "# Tides\n\nSpring tides come twice a month.\n"}) / "tides.md")])
    mine = lib.bot.index
    assert added == ["uploads/ferry.md"] and mine.layers.base is shared.index  # the shared index itself, not a copy
    assert mine.layers.base.chunk_vectors is shared.index.chunk_vectors and mine.ivf is shared.index.ivf
    assert lib.bot.ask("When does the winter ferry to Skye leave?").citations[0].source == "uploads/ferry.md"
    for bot in (other.bot, shared):
        assert all(c.source != "uploads/ferry.md" for c in bot.ask("When does the winter ferry to Skye leave?").citations)
    assert shared.index.layers is None and "uploads/ferry.md" not in shared.index.documents
    assert lib.bot.ask("Which company makes the most advanced chips?").citations  # the shared collection still answers
    libs.close()


def test_kill_9_during_updates_and_merges_leaves_a_whole_index(large, tiny_corpus, tmp_path, embedder):
    """Updates and merges (``compact``) saved in a loop, killed at several moments: each time the index
    loads, holding the files of some whole update (never half of one), and the next one goes on from there."""
    ix = tmp_path / "ix"
    build_bot(tiny_corpus, ix, embedder)
    script = (
        "import sys; from pathlib import Path; from qa.bot import Bot; from qa import store as index_io\n"
        "bot = Bot.load(corpus=sys.argv[1], index=sys.argv[2], on_status=lambda m: None)\n"
        "print('ready', flush=True)\n"
        "for i in range(10_000):\n"
        "    p = Path(sys.argv[3]) / f'note{i}.txt'; p.write_text(f'Note {i}\\n\\nThe lighthouse logged {i} ships passing the reef.')\n"
        "    bot.add(p, on_status=lambda m: None)\n"
        "    if i: bot.remove(f'note{i - 1}.txt')\n"
        "    if i % 3 == 2: bot = Bot(index_io.compact(bot.index, sys.argv[2]), bot.embedder, bot.corpus, Path(sys.argv[2]))\n")
    notes = tmp_path / "notes"
    notes.mkdir()
    for delay in (0.3, 0.9, 1.7):
        proc = subprocess.Popen([sys.executable, "-c", script, str(tiny_corpus), str(ix), str(notes)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                                env={**os.environ, "QA_ANN_FROM": "1"})
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(delay)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        index_io.recover(ix)
        loaded = index_io.load(ix)  # checksums verified: every file the manifest names is whole
        assert {"robots.md", "geo/rivers.txt", "baking.txt"} <= set(loaded.documents)
        assert all("ships passing the reef" in loaded.document(s).text for s in loaded.documents if s.startswith("note"))
        assert len(list(ix.glob("delta-*"))) <= 2  # at most the one named and one being written when killed
    bot = Bot.load(corpus=tiny_corpus, index=ix, on_status=lambda m: None)
    assert bot.ask("How many robots did China install?").citations[0].source == "robots.md"


def test_bm25_rescaled_while_the_average_length_barely_moves(large, tiny_corpus, tmp_path, embedder, monkeypatch):
    """Past a million passages a small change moves the average passage length by far under 0.1%: the saved
    scores are then only rescaled to the live IDF. Forced here (the drift allowed made 1): each score stays
    within the drift of a rebuild's, and the removed passages still score nothing."""
    from qa.store import layered_bm25

    monkeypatch.setattr(layered_bm25, "LENGTH_DRIFT", 1.0)
    ix = tmp_path / "ix"
    bot = build_bot(tiny_corpus, ix, embedder)
    saved_avgdl = float(np.mean(layered_bm25.chunk_lengths(bot.index.terms)))
    bot.add(write_corpus(tmp_path / "new", {"volcano.txt": VOLCANO}) / "volcano.txt")
    bot.remove("baking.txt")
    changed = bot.index
    assert changed.lexical._rescale
    rebuilt = build_bot(tiny_corpus, tmp_path / "rebuilt", embedder)
    live_avgdl = float(np.mean(layered_bm25.chunk_lengths(rebuilt.index.terms)))
    drift = max(abs(live_avgdl / saved_avgdl - 1), abs(saved_avgdl / live_avgdl - 1))
    assert drift > 0.01  # the lengths did move: what is checked is the bound, not equality
    tokens = tokenize("volcanoes robots rivers sourdough nile china crust magma")
    scores = changed.lexical.scores(tokens)
    assert not scores[changed.layers.dead_chunks.nonzero()[0]].any()
    mine = {(c.source, c.start): s for c, s in zip(changed.chunks, scores)}
    for c, s in zip(rebuilt.index.chunks, rebuilt.index.lexical.scores(tokens)):
        assert abs(mine[(c.source, c.start)] - s) <= 2 * drift * s + 1e-5, (c.source, mine[(c.source, c.start)], s, drift)
