"""Near-duplicate passages: groups of chunks that share most of their word 5-grams."""
from __future__ import annotations

import itertools

import numpy as np

from qa.store.record import DUPLICATE_CONTAINMENT
from qa.types import Chunk

# ---------------------------------------------------------------- near-duplicates

_MAX_SHARERS = 1000  # a 5-gram in more chunks than this is page furniture everywhere; it proves no copy


def _shingles(texts: list[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The distinct word 5-grams of each text as 64-bit hashes, all texts at once: (hashes, owner),
    sorted by hash. A text shorter than five words is one shingle."""
    words = [t.lower().split() for t in texts]
    for w in words:
        if len(w) < n:
            w.extend([""] * (n - len(w)))  # pad: one shingle for a short text
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    # Python's own string hash (per process, which is all this needs): one C call per word.
    ids = np.fromiter(map(hash, itertools.chain.from_iterable(words)), dtype=np.int64, count=int(lengths.sum())).view(np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    count = lengths - n + 1  # shingles per text
    first = np.repeat(starts, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    h = np.zeros(len(first), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * np.uint64(1_000_003) + ids[first + k]
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), count)
    order = np.lexsort((owner, h))
    h, owner = h[order], owner[order]
    keep = np.concatenate([[True], (h[1:] != h[:-1]) | (owner[1:] != owner[:-1])])
    return h[keep], owner[keep]


def near_duplicate_groups(chunks: list[Chunk]) -> np.ndarray:
    """Group chunks that repeat each other: a document quoting another, shared boilerplate.

    Two chunks are duplicates when the shared share of their word 5-grams reaches
    DUPLICATE_CONTAINMENT (of the smaller set). Overlapping chunks of one document are not
    duplicates: their overlap is by design. Vectorised: sort all (shingle, chunk) pairs, count
    the shingles each pair of chunks shares, then join each chunk to its lowest-numbered duplicate.
    """
    groups = np.arange(len(chunks), dtype=np.int32)
    if len(chunks) < 2:
        return groups
    hashes, owner = _shingles([c.text for c in chunks])
    sizes = np.bincount(owner, minlength=len(chunks))
    bounds = np.flatnonzero(np.diff(hashes)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(hashes)]])
    lengths = ends - starts
    pairs = []
    for m in range(2, min(int(lengths.max()), _MAX_SHARERS) + 1):
        sel = starts[lengths == m]
        if not len(sel):
            continue
        members = owner[sel[:, None] + np.arange(m)]  # (shingles, m) chunk ids, ascending within a row
        a, b = np.triu_indices(m, 1)
        pairs.append(members[:, b] * len(chunks) + members[:, a])  # key: later chunk, earlier chunk
    if not pairs:
        return groups
    keys, shared = np.unique(np.concatenate([p.ravel() for p in pairs]), return_counts=True)
    later, earlier = keys // len(chunks), keys % len(chunks)
    dup = shared / np.maximum(1, np.minimum(sizes[later], sizes[earlier])) >= DUPLICATE_CONTAINMENT
    for i, j in zip(later[dup].tolist(), earlier[dup].tolist()):  # ascending by the later chunk
        a, b = chunks[i], chunks[j]
        if a.source == b.source and a.start < b.end and b.start < a.end:
            continue
        groups[i] = min(groups[i], groups[j])
    return groups


# ---------------------------------------------------------------- saving
