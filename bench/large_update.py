"""One file added to a large index: the update with the IVF refilled (the default) or trained anew.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/large_update.py /tmp/scale/index-100k     # bench/scale_bot.py's index
    HF_HUB_OFFLINE=1 .venv/bin/python bench/large_update.py /tmp/scale/index-1m --ivf-only

Copies the index, adds one document (a page of the collection's own text under a new name, so it is
embedded like any new file), and saves; once with the earlier IVF refilled, once trained from scratch.
Prints the seconds of each step and the recall@10 of the saved IVF against exact search.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import store as index_io  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.types import Document  # noqa: E402
from qa.store.vectors import refill_ivf, sampled_recall, train_ivf  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("index", type=Path, help="a large index (bench/scale_bot.py's index-100k)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "qa-large-update")
    p.add_argument("--ivf-only", action="store_true", help="only time training the IVF anew against refilling it")
    a = p.parse_args()
    if a.ivf_only:
        return ivf_only(a.index)
    embedder = Embedder()
    rows = []
    for way in ("refilled", "trained"):
        shutil.rmtree(a.work, ignore_errors=True)
        t = time.perf_counter()
        shutil.copytree(a.index, a.work)
        copy_s = time.perf_counter() - t
        t = time.perf_counter()
        index = index_io.load(a.work, verify=False)
        load_s = time.perf_counter() - t
        source = index.docs[len(index.docs) // 2]
        new = Document(source="added/" + source.source, text=source.text[:4000], title=source.title + " (copy)")
        t = time.perf_counter()
        updated = index_io.update(index, [new], set(), embedder.encode)
        if way == "trained":
            updated = replace(updated, trained_ivf=None)
        update_s = time.perf_counter() - t
        t = time.perf_counter()
        index_io.save(updated, a.work)
        save_s = time.perf_counter() - t
        recall = sampled_recall(updated.ivf, updated.chunk_vectors)
        rows.append((way, len(updated.chunks), copy_s, load_s, update_s, save_s, recall))
        print(rows[-1], flush=True)
        del index, updated  # a million passages' update holds about 17 GB: free it before the next
    shutil.rmtree(a.work, ignore_errors=True)
    print("\n| IVF | passages | load s | update s (embed + re-assemble + BM25) | save s (write + IVF) | recall@10, sampled |")
    print("|---|---|---|---|---|---|")
    for way, n, _, load_s, update_s, save_s, recall in rows:
        print(f"| {way} | {n:,} | {load_s:.1f} | {update_s:.1f} | {save_s:.1f} | {recall:.3f} |")
    return 0


def ivf_only(folder: Path) -> int:
    """The IVF step alone, on the index's own vectors: k-means and adding, or adding only."""
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


if __name__ == "__main__":
    sys.exit(main())
