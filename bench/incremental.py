"""What one changed file costs on a large folder: incremental update against embedding it alone.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/incremental.py ../shared/benchmarks/msmarco-5k [--work DIR]

Writes each document of a BEIR corpus as one .txt file (5,000 for MS MARCO-5k), builds the index
once (cached in --work), then measures in one run:

- an unchanged folder: time to open the index, and how many texts were embedded (target 0);
- one file changed: the update (hash the folder, read and embed the changed file, re-assemble,
  save atomically) against building an index of that one file alone (chunk + embed), with the
  target update <= 1.5 x alone + 2 s;
- one file added, one removed (``Bot.add`` / ``Bot.remove``, saved like a rebuild).
The model load is excluded from both sides: it is the same whatever changed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from qa.ingest import read  # noqa: E402


class Counting:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.texts = embedder, 0

    def __call__(self, texts, **kw):
        self.texts += len(texts)
        return self.embedder.encode(texts)


def write_corpus(beir: Path, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(beir / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            title = (r.get("title") or "").strip()
            (folder / f"{r['_id']}.txt").write_text((title + "\n\n" if title else "") + r["text"], encoding="utf-8")
            n += 1
    return n


def timed(fn, repeats: int = 3):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("beir", type=Path)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-bench-incremental")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()

    corpus, ix = a.work / "corpus", a.work / "index"
    if not corpus.exists():
        print(f"Writing {write_corpus(a.beir, corpus):,} files to {corpus} …", file=sys.stderr)
    embedder = Embedder()
    settings = IndexSettings(model=embedder.name)
    hashes = index_io.file_hashes(corpus)
    try:
        fresh = index_io.staleness(index_io.read_manifest(ix), settings, hashes) is None
    except Exception:  # noqa: BLE001 - no index yet
        fresh = False
    if not fresh:
        t0 = time.perf_counter()
        index_io.save(index_io.build_from_folder(corpus, settings, embedder.encode, hashes), ix)
        print(f"full build: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    files = sorted(corpus.glob("*.txt"))
    print(f"{len(files):,} documents")

    # Unchanged: open with zero embeddings.
    enc = Counting(embedder)

    def open_unchanged():
        h = index_io.file_hashes(corpus)
        m = index_io.read_manifest(ix)
        assert index_io.staleness(m, settings, h) is None
        return index_io.load(ix)

    t_open, index = timed(open_unchanged, a.repeats)
    print(f"| unchanged folder: open | {t_open:.2f} s | {enc.texts} texts embedded |")

    # One file changed.
    target = files[len(files) // 2]
    original = target.read_text(encoding="utf-8")
    rows = []
    for r in range(a.repeats):
        target.write_text(original + f" Revision {r}: the figure was checked again in 2026.", encoding="utf-8")
        doc = read(target, corpus)
        t0 = time.perf_counter()
        alone = index_io.build([doc], settings, embedder.encode)
        t_alone = time.perf_counter() - t0
        enc = Counting(embedder)
        t0 = time.perf_counter()
        others: list[Path] = []
        h = index_io.file_hashes(corpus, others)
        current = index_io.load(ix)
        t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        updated = index_io.refresh(current, corpus, enc, h, others)
        t_refresh = time.perf_counter() - t1
        t2 = time.perf_counter()
        index_io.save(updated, ix)
        t_save = time.perf_counter() - t2
        t_update = time.perf_counter() - t0
        rows.append((t_update, t_alone, t_load, t_refresh, t_save, enc.texts, len(alone.chunks) + len(alone.sentences)))
    target.write_text(original, encoding="utf-8")
    index_io.save(index_io.refresh(index_io.load(ix), corpus, embedder.encode, index_io.file_hashes(corpus)), ix)
    t_update, t_alone, t_load, t_refresh, t_save, n_texts, n_alone = (statistics.median(c) for c in zip(*rows))
    bound = 1.5 * t_alone + 2.0
    print(f"| one file changed: update (hash + open + re-assemble + save) | {t_update:.2f} s "
          f"(open {t_load:.2f}, update {t_refresh:.2f}, save {t_save:.2f}) | {int(n_texts)} texts embedded |")
    print(f"| that file alone: chunk + embed | {t_alone:.2f} s | {int(n_alone)} texts |")
    print(f"| target: update <= 1.5 x alone + 2 s = {bound:.2f} s | {'met' if t_update <= bound else 'NOT met'} "
          f"({t_update / bound:.2f} of the bound) | |")

    # Add and remove through the Bot, saved like a rebuild.
    bot = Bot(index_io.load(ix), embedder, corpus, ix)
    extra = a.work / "new-note.txt"
    extra.write_text("Ferry timetable\n\nThe winter ferry to Skye leaves at 7:15 from the north pier.", encoding="utf-8")
    t0 = time.perf_counter()
    bot.add([extra], on_status=lambda m: None)
    t_add = time.perf_counter() - t0
    t0 = time.perf_counter()
    bot.remove("new-note.txt")
    t_remove = time.perf_counter() - t0
    shutil.rmtree(corpus / ".qa-removed", ignore_errors=True)
    print(f"| Bot.add(1 file), saved | {t_add:.2f} s | |")
    print(f"| Bot.remove(1 file), saved | {t_remove:.2f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
