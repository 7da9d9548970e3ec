"""An index built on a Ray cluster of 1 and of 2 worker processes, against a local build (issue 27).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ray_build.py ../shared/benchmarks [--workers 1 2] [--limit N]

The corpus is SQuAD 2.0 dev's paragraphs, one text file each. For each cluster size, a local cluster is
started (``qa.store.ray_build.local_cluster``: a head node that runs no work and N worker nodes of one CPU
each, separate processes on 127.0.0.1), the index is built on it and saved, and the table gives passages/s
and the share that does not parallelise: listing and hashing the files, assembling the segments (BM25,
near-duplicate groups) and saving, all on the driver, plus each node loading the model once, which happens
on every node at the same time. From those, the build time on N machines is estimated as serial + parallel/N
(Amdahl), the parallel part measured on one worker. Every build is checked against the local one: the same
chunks, vectors with cosine ≥ 0.999.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import store  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate import benchmarks as b  # noqa: E402
from qa.store.ray_build import build_on_ray, local_cluster  # noqa: E402


def write_corpus(squad: Path, folder: Path, limit: int | None) -> int:
    docs = b.load_squad(squad).documents[:limit]
    folder.mkdir(parents=True)
    for n, d in enumerate(docs):
        (folder / f"{n:04d}.txt").write_text(d.text, encoding="utf-8")
    return len(docs)


def check(local: store.Index, built: store.Index) -> float:
    assert [(c.source, c.start, c.end) for c in local.chunks] == [(c.source, c.start, c.end) for c in built.chunks]
    a, z = np.asarray(local.chunk_vectors, np.float32), np.asarray(built.chunk_vectors, np.float32)
    return float(((a * z).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(z, axis=1)).min())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("benchmarks", type=Path, help="the folder holding squad-v2-dev/")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--limit", type=int, help="only the first N paragraphs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-raybench-"))
    corpus = work / "docs"
    n_docs = write_corpus(args.benchmarks / "squad-v2-dev" / "dev-v2.0.json", corpus, args.limit)
    embedder = Embedder()
    settings = store.IndexSettings(model=embedder.name)
    t = time.perf_counter()
    local = store.build_from_folder(corpus, settings, embedder.encode)
    local_seconds = time.perf_counter() - t
    passages = len(local.chunks)
    print(f"{n_docs} documents, {passages} passages, {len(local.sentences)} sentences; "
          f"local build in-process (this machine's cores): {local_seconds:.1f} s, {passages / local_seconds:.0f} passages/s\n")
    rows = []
    for workers in args.workers:
        with local_cluster(workers=workers, cpus=1) as address:
            t = time.perf_counter()
            index = build_on_ray(corpus, settings, address, work / f"cache-{workers}", say=lambda m: None, progress=False)
            built = time.perf_counter() - t
            t = time.perf_counter()
            store.save(index, work / f"index-{workers}")
            saved = time.perf_counter() - t
        cluster = index.manifest["ray_seconds"]
        startup = index.manifest["ray_startup_seconds"]
        serial = built - cluster + saved + startup
        rows.append((workers, built + saved, cluster, startup, serial, check(local, index)))
        shutil.rmtree(work / f"cache-{workers}", ignore_errors=True)
    print("| worker processes | build + save | on the cluster | of which model loads | serial share | passages/s | min cosine vs local |")
    print("|---|---|---|---|---|---|---|")
    for workers, total, cluster, startup, serial, cos in rows:
        print(f"| {workers} | {total:.1f} s | {cluster:.1f} s | {startup:.1f} s | {serial:.1f} s ({serial / total:.0%}) | "
              f"{passages / total:.1f} | {cos:.5f} |")
    one = rows[0]
    parallel = one[1] - one[4]
    print(f"\nAmdahl from one worker: serial {one[4]:.1f} s + parallel {parallel:.1f} s / N")
    for n in (1, 2, 4, 8, 16, 64):
        estimate = one[4] + parallel / n
        print(f"- N = {n}: {estimate:.1f} s, {passages / estimate:.1f} passages/s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
