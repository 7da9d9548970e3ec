"""Vector search chosen by the collection's size.

Up to ``ann_from()`` passages (50,000 by default, ``QA_ANN_FROM``) the index
searches exactly, as it always has: every vector in memory, flat inner
product. Past it, exact search costs too much time and memory (a million
passages with their sentences: half a second and 6 GB per question), so a
large index keeps

- its passage and sentence vectors as float16 files on disk, read through a
  memory map only for the candidates a question scores;
- an IVF index with 8-bit codes over the passages (``chunks.ivf``), whose top
  candidates are re-ranked with the exact vectors, so what it returns is
  the exact order of the passages it found;
- no search over every sentence: a passage's best sentence is scored among
  the candidates, which the passage and BM25 searches supply.
"""

from __future__ import annotations

import math
import mmap
import os
from pathlib import Path

import numpy as np

from qa.store.records import StackedRows

ANN_FROM = 50_000
RERANK = 4  # IVF returns this many times the candidates asked for, re-ranked exactly
BLOCK = 65_536


def ann_from() -> int:
    """The passage count from which an index is stored large (``QA_ANN_FROM`` overrides)."""
    value = os.environ.get("QA_ANN_FROM", "").strip()
    return int(value) if value.isdigit() else ANN_FROM


def lists_for(n: int) -> int:
    """IVF lists: about 4·√n, the usual rule (1,000 passages per list at a million)."""
    return min(n, max(16, int(4 * math.sqrt(n))))


def probes_for(nlist: int) -> int:
    """Lists searched per question: 4.5·√nlist, at least 16 (a shrinking share as the collection grows,
    since each list then holds more). Recall@10 against exact search, bench/scale_bot.py: 0.983 on
    102,511 passages of real text (161 of 1,280 lists; 0.958 at 80), 0.988 on the grown million
    (286 of 4,049 lists, 6 ms; 0.978 at 128)."""
    return min(nlist, max(16, round(4.5 * math.sqrt(nlist))))


def train_ivf(vectors: np.ndarray, seed: int = 0):
    """An IVF index with 8-bit scalar codes over ``vectors`` (float16 or float32, normalised)."""
    import faiss

    n, d = vectors.shape
    nlist = lists_for(n)
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # training is a batch job: every core
    try:
        ivf.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        for a in range(0, n, BLOCK):
            ivf.add(np.ascontiguousarray(vectors[a:a + BLOCK], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    ivf.nprobe = probes_for(nlist)
    return ivf


def refill_ivf(trained, vectors: np.ndarray):
    """``trained`` (an IVF of an earlier version of the collection) emptied and filled with ``vectors``,
    its lists and 8-bit ranges kept: an update of a large index then costs one pass of adding, not
    k-means again. None when there is nothing to reuse, or the collection has changed so much in size
    that training anew pays: its ideal list count is over 1.5 times the trained one (the collection grew
    2.25-fold) or under half of it."""
    if trained is None or not len(vectors) or not 2 / 3 <= trained.nlist / lists_for(len(vectors)) <= 2:
        return None
    import faiss

    ivf = faiss.clone_index(trained)
    ivf.reset()
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        for a in range(0, len(vectors), BLOCK):
            ivf.add(np.ascontiguousarray(vectors[a:a + BLOCK], dtype=np.float32))
    finally:
        faiss.omp_set_num_threads(threads)
    ivf.nprobe = probes_for(ivf.nlist)
    return ivf if sampled_recall(ivf, vectors) >= MIN_RECALL else None


MIN_RECALL = 0.95  # below this on a sample, a refilled IVF's lists no longer suit the collection: train anew


def sampled_recall(ivf, vectors: np.ndarray, queries: int = 64, k: int = 10, seed: int = 0) -> float:
    """Recall@k of ``ivf``, re-ranked as ``VectorSearch`` does, against exact search, for stored vectors
    drawn at random as the questions: a check that takes about a second at a million passages."""
    n = len(vectors)
    k = min(k, n)
    picks = np.random.default_rng(seed).choice(n, size=min(queries, n), replace=False)
    q = np.asarray(vectors[picks], dtype=np.float32)
    best = np.full((len(q), k), -np.inf, dtype=np.float32)
    exact = np.zeros((len(q), k), dtype=np.int64)
    for a in range(0, n, BLOCK):  # exact top k, a block at a time
        s = q @ np.asarray(vectors[a:a + BLOCK], dtype=np.float32).T
        both = np.concatenate([best, s], axis=1)
        ids = np.concatenate([exact, np.broadcast_to(np.arange(a, a + s.shape[1]), s.shape)], axis=1)
        top = np.argsort(-both, axis=1, kind="stable")[:, :k]
        best, exact = np.take_along_axis(both, top, 1), np.take_along_axis(ids, top, 1)
    search = VectorSearch(vectors, ivf)
    return float(np.mean([len(set(search.search(v, k).tolist()) & set(e.tolist())) / k for v, e in zip(q, exact)]))


def read_ivf(path: Path):
    """Read whole (8-bit codes: 400 MB at a million passages). A memory-mapped IVF would be written
    back by ``faiss.write_index`` as a stub pointing at its file, so re-saving an index would break it."""
    import faiss

    ivf = faiss.read_index(str(path))
    ivf.nprobe = probes_for(ivf.nlist)
    return ivf


def save_vectors(path: Path, vectors: np.ndarray) -> None:
    """Float16 on disk: half the size, and cosines change by under 0.001."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=vectors.shape)
    for a in range(0, len(vectors), BLOCK):
        out[a:a + BLOCK] = vectors[a:a + BLOCK]
    out.flush()
    del out


def open_vectors(path: Path) -> np.ndarray:
    """Memory-mapped, with read-ahead off: a question reads a few hundred scattered rows, and the
    kernel's default read-ahead would pull in 128 KB around each (gigabytes of page cache in minutes)."""
    vectors = np.load(path, mmap_mode="r")
    raw = getattr(vectors, "_mmap", None)
    if raw is not None and hasattr(mmap, "MADV_RANDOM"):
        raw.madvise(mmap.MADV_RANDOM)
    return vectors


def rows(vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``vectors[ids]`` as float32, the rows of a memory map read in parallel (``prefetch``)."""
    ids = np.asarray(ids, dtype=np.int64)
    if isinstance(vectors, StackedRows):  # a saved index's vectors and its delta's: each part read as it is read alone
        return vectors.gather(ids, rows)
    prefetch(vectors, ids)
    return np.asarray(vectors[ids], dtype=np.float32)


def prefetch(vectors: np.ndarray, ids: np.ndarray) -> None:
    """Ask the kernel for the pages holding these rows of a memory map all at once (``MADV_WILLNEED``),
    so that the disk reads them in parallel instead of one page fault at a time: at a million passages
    a question reads a few hundred scattered rows. Only a hint; nothing to do for vectors in memory."""
    raw = getattr(vectors, "_mmap", None)
    if raw is None or not len(ids) or not hasattr(mmap, "MADV_WILLNEED"):
        return
    try:
        base = np.frombuffer(raw, dtype=np.uint8).ctypes.data
        row = vectors.strides[0]
        first = vectors.ctypes.data - base + np.unique(np.asarray(ids, dtype=np.int64)) * row  # byte positions in the map
        for start, length in page_runs(first, vectors.itemsize * int(np.prod(vectors.shape[1:])), mmap.PAGESIZE):
            raw.madvise(mmap.MADV_WILLNEED, start, length)
    except (OSError, ValueError):
        pass  # the rows are read all the same


def page_runs(first: np.ndarray, length: int, page: int) -> list[tuple[int, int]]:
    """The runs of consecutive pages that hold the byte ranges ``[f, f + length)`` for ``f`` in ``first``
    (sorted), as (offset, length) in bytes, page-aligned: one ``madvise`` each."""
    if not len(first) or length <= 0:
        return []
    starts, ends = first // page, (first + length - 1) // page
    reach = np.maximum.accumulate(ends)
    breaks = np.flatnonzero(starts[1:] > reach[:-1] + 1) + 1  # a gap of at least one page
    return [(int(starts[a]) * page, (int(reach[b - 1]) - int(starts[a]) + 1) * page)
            for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(starts)])]


class VectorSearch:
    """Top-k inner-product search over ``vectors``: exact (flat) or IVF re-ranked exactly. ``skip``
    (a mask over the vectors) leaves some out: a large index's removed passages, until it is compacted."""

    def __init__(self, vectors: np.ndarray, ivf=None, skip: np.ndarray | None = None) -> None:
        import faiss

        # One question's search on one thread. FAISS's OpenMP threads spin for a while after each
        # search, and the question encoder (torch, with threads of its own) then ran three times
        # slower: bot.ask p50 on 10k passages 100 ms with two FAISS threads, 59 ms with one.
        faiss.omp_set_num_threads(1)
        self.vectors, self.ivf = vectors, ivf
        self.skip = skip if skip is not None and skip.any() else None
        self._skipped = 0 if self.skip is None else int(self.skip.sum())
        self._params = None
        if ivf is not None and self.skip is not None:  # the IVF leaves them out itself: no wider search to make room
            self._live = np.packbits(~self.skip, bitorder="little")  # kept: FAISS reads it while searching
            self._params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBitmap(len(self.skip), faiss.swig_ptr(self._live)),
                                                     nprobe=ivf.nprobe)
        if ivf is None:
            self._flat = faiss.IndexFlatIP(vectors.shape[1])
            if len(vectors):
                self._flat.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, q: np.ndarray, k: int) -> np.ndarray:
        """The ids of the ``k`` best vectors for ``q`` (one query), best first."""
        return self.scored(q, k)[0]

    def scored(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the ``k`` best vectors for ``q``, best first, and their exact inner products."""
        q = np.ascontiguousarray(q.reshape(1, -1), dtype=np.float32)
        if self.ivf is None:
            extra = min(self._skipped, 4 * k)  # room for the skipped ones among the nearest
            scores, ids = self._flat.search(q, k + extra)
            keep = ids[0] >= 0
            if self.skip is not None:
                keep &= ~self.skip[np.maximum(ids[0], 0)]
            return ids[0][keep][:k], scores[0][keep][:k]
        _, ids = self.ivf.search(q, k * RERANK, params=self._params) if self._params else self.ivf.search(q, k * RERANK)
        ids = ids[0][ids[0] >= 0]
        ids = np.sort(ids)  # in file order: fewer pages of the memory map touched
        exact = rows(self.vectors, ids) @ q[0]
        order = np.argsort(-exact, kind="stable")[:k]
        return ids[order], exact[order]
