"""Changes to a large index: files added and removed as a delta beside it (qa/store/layers.py), and a
visitor's upload beside a large shared index.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/large_update.py /tmp/qa-scale/index-1m            # bench/scale_bot.py's
    HF_HUB_OFFLINE=1 .venv/bin/python bench/large_update.py /tmp/qa-scale/index-100k --visitor
    HF_HUB_OFFLINE=1 .venv/bin/python bench/large_update.py /tmp/qa-scale/index-1m --ivf-only

Updates (on a hard-linked copy of the index: its saved files are never written, only new ones):
- one file added (a page of the collection's own text, each line's words shuffled, under a new name, so
  it is embedded like any new file), then one removed; for each the seconds (embedding, the delta, the atomic save), the peak
  memory above the loaded index (VmHWM, reset before), ``bot.ask`` p50 before and after, the passage
  search's recall@10 against exact search over the live passages, and whether the new file's passages
  are found (each of its passages' text as the question: the passage in the top ten) and the removed
  file's never are;
- then ``--updates`` more, alternately adding and removing a file, and ``bot.ask`` p50 of the index
  loaded again from disk against the unchanged index's, measured alternately in one process.

``--visitor``: a 20-page PDF (reportlab) uploaded by one visitor of a server holding the index: seconds
until it answers, resident memory added, and whether a second visitor's library sees any of it.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store.vectors import refill_ivf, sampled_recall, train_ivf  # noqa: E402
from qa.types import Document  # noqa: E402


def status_mb(field: str) -> float:
    m = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(m.group(1)) / 1024 if m else 0.0


def reset_peak() -> None:
    """Start VmHWM again from the current resident size (Linux: ``clear_refs`` 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def p50(bot: Bot, questions: list[str]) -> float:
    times = []
    for q in questions:
        t = time.perf_counter()
        bot.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50))


def questions_of(index, n: int, seed: int = 1) -> list[str]:
    """Sentences of the collection (8–30 words) drawn at random, as bench/scale_bot.py draws them."""
    rng, out = random.Random(seed), []
    while len(out) < n:
        d, a, b, _, _ = index.sentences[rng.randrange(len(index.sentences))]
        if int(d) in index.dead:
            continue
        s = " ".join(index.docs[int(d)].text[int(a):int(b)].split())
        if 8 <= len(s.split()) <= 30:
            out.append(s)
    return out


def recall_at_10(bot: Bot, qv: np.ndarray) -> float:
    """The bot's passage search against exact search over every live passage vector."""
    ix = bot.index
    dead = np.zeros(len(ix.chunks), dtype=bool)
    if ix.layers is not None:
        dead[:len(ix.layers.dead_chunks)] = ix.layers.dead_chunks
    best_s = np.full((len(qv), 10), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(qv), 10), dtype=np.int64)
    for a in range(0, len(ix.chunks), 65_536):
        block = np.asarray(ix.chunk_vectors[a:a + 65_536], dtype=np.float32)
        s = qv @ block.T
        s[:, dead[a:a + len(block)]] = -np.inf
        s_all = np.concatenate([best_s, s], axis=1)
        i_all = np.concatenate([best_i, np.broadcast_to(np.arange(a, a + len(block)), s.shape)], axis=1)
        top = np.argpartition(-s_all, 9, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(s_all, top, 1), np.take_along_axis(i_all, top, 1)
    search = bot.retriever.store_search
    found = [search._dense(v, bot.retriever.fusion.depth)[:10] for v in qv]
    return float(np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(found, best_i)]))


def found_share(bot: Bot, embedder: Embedder, source: str, texts: list[str]) -> float:
    """How many of ``texts`` (a document's passages) find a passage of ``source`` among the top ten."""
    search, ix = bot.retriever.store_search, bot.index
    hits = [any(ix.chunks[int(i)].source == source for i in search._dense(v, 10)) for v in embedder.encode(texts)]
    return float(np.mean(hits)) if hits else 0.0


def change(bot: Bot, embedder: Embedder, folder: Path, add: Document | None, remove: str | None) -> tuple[Bot, dict]:
    """One update as ``qa index`` makes it (embed, delta, save), timed, its peak memory measured."""
    before = status_mb("VmRSS")
    reset_peak()
    t = time.perf_counter()
    hashes = dict(bot.index.hashes)
    if add is not None:
        hashes[add.source] = index_io.text_hash(add)
    updated = index_io.update(bot.index, [add] if add else [], {remove} if remove else set(), embedder.encode, hashes,
                              skipped=bot.index.manifest.get("skipped", []))
    index_io.save(updated, folder)
    seconds = time.perf_counter() - t
    return Bot(updated, embedder, None, folder), {"seconds": round(seconds, 2), "peak_mb": round(status_mb("VmHWM") - before)}


def new_document(index, n: int) -> Document:
    """A page of the collection's own text, each line's words shuffled: written like it, but a copy of
    nothing in it (a copy's passages would tie with the original's for the top ten)."""
    donor = index.docs[(len(index.docs) * (n + 1)) // 211 % len(index.docs)]
    rng = random.Random(n)
    lines = [line.split() for line in donor.text[:4000].splitlines()]
    text = "\n".join(" ".join(rng.sample(words, len(words))) for words in lines)
    return Document(source=f"added/{n}-{donor.source}", text=text, title=donor.title + " (shuffled)")


def updates(a) -> int:
    work = Path(tempfile.mkdtemp(prefix="qa-large-update-"))
    shutil.rmtree(work)
    subprocess.run(["cp", "-al", str(a.index), str(work)], check=True)  # hard links: saved files are never written
    try:
        embedder = Embedder()
        embedder.wait_for_export()
        fresh = Bot(index_io.load(work), embedder, None, work)
        qs = questions_of(fresh.index, a.questions)
        qv = embedder.encode(qs[:a.recall_questions])
        p50(fresh, qs[:20])
        rows = {"passages": fresh.index.passages, "loaded_rss_mb": round(status_mb("VmRSS")),
                "p50_before": round(p50(fresh, qs), 1), "recall_before": round(recall_at_10(fresh, qv), 3)}
        print(json.dumps(rows), flush=True)
        doc = new_document(fresh.index, 0)
        bot, added = change(fresh, embedder, work, doc, None)
        texts = [c.text for c in bot.index.chunks[bot.index.chunks_of(doc.source).start:bot.index.chunks_of(doc.source).stop]]
        added.update(p50=round(p50(bot, qs), 1), recall=round(recall_at_10(bot, qv), 3),
                     new_found=found_share(bot, embedder, doc.source, texts), new_passages=len(texts))
        rows["add"] = added
        print(json.dumps({"add": added}), flush=True)
        gone = bot.index.live_docs[len(bot.index.live_docs) // 3]
        gone_texts = [c.text for c in bot.index.chunks[bot.index.chunks_of(gone.source).start:bot.index.chunks_of(gone.source).stop]][:20]
        bot, removed = change(bot, embedder, work, None, gone.source)
        removed.update(p50=round(p50(bot, qs), 1), recall=round(recall_at_10(bot, qv), 3),
                       removed_found=found_share(bot, embedder, gone.source, gone_texts))
        rows["remove"] = removed
        print(json.dumps({"remove": removed}), flush=True)
        seconds, peaks = [], []
        for n in range(1, a.updates + 1):
            if n % 2:
                bot, r = change(bot, embedder, work, new_document(bot.index, n), None)
            else:
                bot, r = change(bot, embedder, work, None, bot.index.live_docs[(n * 7919) % len(bot.index.live_docs)].source)
            seconds.append(r["seconds"])
            peaks.append(r["peak_mb"])
        del bot
        again = Bot(index_io.load(work), embedder, None, work)
        after, before = [], []
        for _ in range(5):  # alternately, so drift in the machine's speed falls on both
            before.append(p50(fresh, qs))
            after.append(p50(again, qs))
        lay = again.index.layers
        rows["after_updates"] = {
            "updates": a.updates, "seconds_median": round(float(np.median(seconds)), 2), "seconds_max": round(max(seconds), 2),
            "peak_mb_max": max(peaks), "delta_passages": lay.delta_passages if lay else 0,
            "dead_passages": lay.dead_passages if lay else 0, "p50_fresh": round(float(np.median(before)), 1),
            "p50_after": round(float(np.median(after)), 1), "ratio": round(float(np.median(after) / np.median(before)), 2),
            "recall": round(recall_at_10(again, qv), 3)}
        print(json.dumps({"after_updates": rows["after_updates"]}), flush=True)
        print(json.dumps(rows, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def visitor(a) -> int:
    from qa.serve.sessions import Libraries

    sys.path.insert(0, str(ROOT / "tests"))
    from writers import write_pdf

    embedder = Embedder()
    embedder.wait_for_export()
    shared = Bot(index_io.load(a.index), embedder, None, a.index)
    work = Path(tempfile.mkdtemp(prefix="qa-visitor-"))
    try:
        rng = random.Random(3)
        words = "ferry harbour timetable ticket island crossing winter summer deck cabin".split()
        pages = [[f"Page {p} of the ferry guide. " + " ".join(rng.choice(words) for _ in range(60)) + "."
                  for _ in range(4)] for p in range(1, 21)]
        pages[12].append("The night ferry to Barra leaves Oban at 23:15 on Thursdays.")
        pdf = write_pdf(work / "ferry-guide.pdf", pages, title="Ferry guide")
        libs = Libraries(root=work / "libs")
        shared.ask("warm up")
        before = status_mb("VmRSS")
        t = time.perf_counter()
        lib, added, warnings = libs.add(None, shared, [str(pdf)])
        answer = lib.bot.ask("When does the night ferry to Barra leave?")
        seconds = time.perf_counter() - t
        grown = status_mb("VmRSS") - before
        other, _, _ = libs.add(None, shared, [str(write_pdf(work / "tides.pdf", [["Spring tides come twice a month."]]))])
        seen = [c.source for c in other.bot.ask("When does the night ferry to Barra leave?").citations]
        print(json.dumps({"passages": shared.index.passages, "added": added, "warnings": warnings,
                          "ready_s": round(seconds, 2), "rss_added_mb": round(grown),
                          "first_citation": answer.citations[0].source, "page": answer.citations[0].page,
                          "copied_shared": lib.bot.index.layers is None or lib.bot.index.layers.base is not shared.index,
                          "second_visitor_sees_it": any(s.startswith("uploads/ferry") for s in seen)}, indent=1))
        libs.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ivf_only(folder: Path) -> int:
    """The IVF step of a compaction alone, on the index's own vectors: k-means and adding, or adding only."""
    index = index_io.load(folder, verify=False)
    vectors = index.chunk_vectors
    t = time.perf_counter()
    trained = train_ivf(vectors)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    refilled = refill_ivf(index.ivf, vectors)
    refill_s = time.perf_counter() - t
    print(f"| IVF over {len(vectors):,} passages | seconds | recall@10, sampled |\n|---|---|---|")
    print(f"| trained anew ({trained.nlist} lists) | {train_s:.1f} | {sampled_recall(trained, vectors):.3f} |")
    print(f"| refilled (the saved index's {refilled.nlist} lists) | {refill_s:.1f} | {sampled_recall(refilled, vectors):.3f} |")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("index", type=Path, help="a large index (bench/scale_bot.py's index-1m or index-100k)")
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--recall-questions", type=int, default=100)
    p.add_argument("--visitor", action="store_true", help="a visitor's 20-page PDF beside the index instead")
    p.add_argument("--ivf-only", action="store_true", help="only time training the IVF anew against refilling it")
    a = p.parse_args()
    if a.ivf_only:
        return ivf_only(a.index)
    return visitor(a) if a.visitor else updates(a)


if __name__ == "__main__":
    sys.exit(main())
