"""How the vector half of the index scales: flat search beside approximate indexes, at 10k, 100k and 1M passages.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale.py ../shared/benchmarks [--sizes 10000,100000,1000000]

Groundwork for issue 12's million-passage target, not the bot end to end. The vectors are real
ones grown to size: MS MARCO-5k's passage and sentence vectors as the bot indexes them (its cached
index, built on first use), each copied with small Gaussian noise (sigma 0.02 per dimension before
normalising) until the collection has N passages and about 3.1 sentences per passage, as MS MARCO
has. The queries are MS MARCO-5k's 43 real queries, encoded by the bundled model.

Per size and per index, for the two searches the bot makes per question (top 50 passages, top 100
sentences): build seconds, index size, p50 / p95 milliseconds over the queries, and
recall@10 against exact (flat) search on the same vectors. Size is the serialized index (what it
holds in memory).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store import IndexSettings  # noqa: E402


def grow(base: np.ndarray, n: int, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    """``n`` unit vectors: ``base`` rows repeated, each copy nudged by noise (the originals kept first)."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 200_000):
        idx = np.arange(start, min(n, start + 200_000)) % len(base)
        block = base[idx] + (rng.standard_normal((len(idx), base.shape[1])).astype(np.float32) * sigma)
        out[start:start + len(idx)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out[:min(n, len(base))] = base[:n]
    return out


def timed_search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    ids, times = [], []
    for q in queries:
        t = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - t) * 1000)
        ids.append(found[0])
    return np.array(ids), times


def recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10])) / 10 for f, e in zip(found, exact)]))


def make(kind: str, vectors: np.ndarray):
    import faiss

    d, n = vectors.shape[1], len(vectors)
    if kind == "flat float32":
        ix = faiss.IndexFlatIP(d)
    elif kind == "flat SQ8":
        ix = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    elif kind.startswith("IVF"):
        nlist = int(4 * np.sqrt(n))
        quantizer = faiss.IndexFlatIP(d)
        ix = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)]
        ix.train(sample)
        ix.nprobe = int(kind.split("nprobe ")[1].rstrip(")"))
    elif kind.startswith("HNSW"):
        ix = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        ix.train(vectors[:100_000])
        ix.hnsw.efSearch = 128
    else:
        raise ValueError(kind)
    if not ix.is_trained:
        ix.train(vectors[:100_000])
    for start in range(0, n, 100_000):
        ix.add(vectors[start:start + 100_000])
    return ix


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/")
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--kinds", default="flat float32,flat SQ8,IVF-SQ8 (nprobe 16),IVF-SQ8 (nprobe 64),HNSW-SQ8 (M 32)")
    p.add_argument("--hnsw-always", action="store_true", help="build HNSW at every size (minutes at 1M)")
    a = p.parse_args()
    import faiss

    faiss.omp_set_num_threads(2)
    embedder = Embedder()
    marco = b.load_beir(a.benchmarks / "msmarco-5k")
    real = b.open_or_build(marco.documents, IndexSettings(model=embedder.name), embedder.encode, "msmarco")
    queries = embedder.encode(list(marco.queries.values()))
    ratio = len(real.sentence_vectors) / len(real.chunk_vectors)
    rng = np.random.default_rng(0)
    print("| passages (+ sentences) | index | build s | index size MB | p50 / p95 ms (passages top 50 + sentences top 100) | recall@10 vs flat |")
    print("|---|---|---|---|---|---|")
    for n in map(int, a.sizes.split(",")):
        passages = grow(real.chunk_vectors, n, rng)
        sentences = grow(real.sentence_vectors, int(n * ratio), rng)
        exact = None
        for kind in a.kinds.split(","):
            kind = kind.strip()
            if kind.startswith("HNSW") and n > 100_000 and not a.hnsw_always:
                print(f"| {n:,} (+{len(sentences):,}) | {kind} | — | — | — | not run above 100,000 passages (--hnsw-always to include it) |", flush=True)
                continue
            t = time.perf_counter()
            ix_p, ix_s = make(kind, passages), make(kind, sentences)
            build = time.perf_counter() - t
            added = sum(faiss.serialize_index(ix).nbytes for ix in (ix_p, ix_s)) / 1e6
            found_p, tp = timed_search(ix_p, queries, 50)
            found_s, ts = timed_search(ix_s, queries, 100)
            total = np.array(tp) + np.array(ts)
            if exact is None:
                exact = (found_p, found_s)
            rec = (recall_at_10(found_p, exact[0]) + recall_at_10(found_s, exact[1])) / 2
            print(f"| {n:,} (+{len(sentences):,}) | {kind} | {build:.1f} | {added:,.0f} | {np.percentile(total, 50):.1f} / "
                  f"{np.percentile(total, 95):.1f} | {rec:.3f} |", flush=True)
            del ix_p, ix_s
        del passages, sentences
    print(f"\npeak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
