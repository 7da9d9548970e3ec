"""A large index changed without being rebuilt: the saved index as it is, plus a small *delta* segment
and *tombstones*.

Adding one file to a million passages by re-assembling them took 8 minutes and 17 GB: the records,
BM25 and near-duplicate groups were all remade. Instead, the saved index (its memory-mapped vectors,
IVF and bm25s files) stays untouched as the *base*; the documents added since go into the delta (their
chunks, sentences, vectors and terms); the base's removed or replaced documents are tombstoned, and
searches skip them at once. Chunk, sentence and document ids run on from the base's into the delta's,
so everything above the store reads one ``Index``. BM25 is scored with the live collection's
statistics (``layered_bm25``), so a search ranks as a rebuild's would.

The delta is saved beside the base (``delta``); ``compacted`` merges everything into one index again
(``qa index --compact``, or by itself once the changes reach a quarter of the base).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.store.duplicates import near_duplicate_groups
from qa.store.freshness import text_hash
from qa.store.layered_bm25 import LayeredLexical, chunk_lengths
from qa.store.record import Index
from qa.store.records import ChainedRows, ChunkTable, SentenceLists, StackedRows
from qa.store.segments import Segment, assemble, make_segments, segments_of

COMPACT_SHARE = 0.25  # changes past this share of the base's passages are merged into it
COMPACT_FROM = 20_000  # ... and past this many passages: a small index's changes never are


@dataclass
class Layers:
    """What a changed large index stands on (see the module doc)."""

    base: Index  # as saved; never changed
    delta: list[Segment]  # documents added since, by source
    dead: frozenset[int]  # base document numbers removed or replaced since
    dead_chunks: np.ndarray = field(repr=False, default=None)  # mask over the base's chunks

    @property
    def dead_passages(self) -> int:
        return int(self.dead_chunks.sum())

    @property
    def delta_passages(self) -> int:
        return sum(len(s.chunks) for s in self.delta)


def layered(base: Index, delta: list[Segment], dead: frozenset[int], manifest: dict) -> Index:
    """One index reading ``base`` with its ``dead`` documents left out and ``delta`` added."""
    delta = sorted(delta, key=lambda s: s.doc.source)
    nd, nc, ns = len(base.docs), len(base.chunks), len(base.sentences)
    docs = [*base.docs, *(s.doc for s in delta)]
    doc_col, starts, ends, rows, ci = [base.chunks.doc], [base.chunks.start], [base.chunks.end], [], nc
    for k, s in enumerate(delta):
        doc_col.append(np.full(len(s.chunks), nd + k, dtype=np.int32))
        starts.append(np.fromiter((c.start for c in s.chunks), dtype=np.int64, count=len(s.chunks)))
        ends.append(np.fromiter((c.end for c in s.chunks), dtype=np.int64, count=len(s.chunks)))
        if len(s.sentences):
            r = s.sentences.astype(np.int32)
            rows.append(np.column_stack([np.full(len(r), nd + k, dtype=np.int32), r[:, 0], r[:, 1], r[:, 2] + ci, r[:, 3] + ci]))
        ci += len(s.chunks)
    delta_rows = np.concatenate(rows).astype(np.int32) if rows else np.zeros((0, 5), dtype=np.int32)
    dead_chunks = np.zeros(nc, dtype=bool)
    for d in dead:
        own = base.chunks.of_document(d)
        dead_chunks[own.start:own.stop] = True
    delta_chunks = [c for s in delta for c in s.chunks]
    delta_terms = [t for s in delta for t in s.terms]

    def stacked(saved: np.ndarray, added: list[np.ndarray]) -> np.ndarray:
        added = [a for a in added if len(a)]
        return StackedRows([saved, np.concatenate(added).astype(np.float32)]) if added else saved

    if base.bm25_lengths is None:  # read once per saved index, shared by every change made on it
        base.bm25_lengths = chunk_lengths(base.terms)
    lengths = base.bm25_lengths
    lexical = LayeredLexical(base.lexical, lengths, dead_chunks, delta_terms,
                             (base.terms[int(i)] for i in np.flatnonzero(dead_chunks)))
    delta_lists = SentenceLists.of(delta_rows - np.array([0, 0, 0, nc, nc], dtype=np.int32), len(delta_chunks))
    return Index(
        settings=base.settings, docs=docs,
        chunks=ChunkTable(docs, np.concatenate(doc_col), np.concatenate(starts), np.concatenate(ends)),
        groups=np.concatenate([_regrouped(base.groups, dead_chunks), near_duplicate_groups(delta_chunks) + nc]).astype(np.int32)
        if delta_chunks else _regrouped(base.groups, dead_chunks),
        chunk_vectors=stacked(base.chunk_vectors, [s.chunk_vectors for s in delta]),
        sentences=StackedRows([base.sentences, delta_rows]) if len(delta_rows) else base.sentences,
        sentence_vectors=stacked(base.sentence_vectors, [s.sentence_vectors for s in delta]),
        chunk_sentences=base.chunk_sentences.joined(delta_lists, ns) if delta_chunks else base.chunk_sentences,
        lexical=lexical, manifest=manifest, terms=ChainedRows([base.terms, delta_terms]), ivf=base.ivf,
        layers=Layers(base, delta, frozenset(dead), dead_chunks), folder=base.folder,
    )


def _regrouped(groups: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Near-duplicate groups without their dead members: a group whose first chunk is gone is named
    after its first live one, as a rebuild would name it."""
    gone = dead[groups] & ~dead  # live chunks whose group is named after a dead one
    if not gone.any():
        return groups
    out = groups.copy()
    ids = np.flatnonzero(gone)
    order = np.lexsort((ids, groups[ids]))
    named, first = np.unique(groups[ids][order], return_index=True)
    out[ids] = ids[order][first][np.searchsorted(named, groups[ids])]
    return out


def update_layered(index: Index, docs: list, remove: set[str] | frozenset[str], encode, hashes: dict[str, str],
                   skipped: list[str] | None = None) -> Index:
    """``index`` (large) with ``remove`` dropped and ``docs`` added or replaced, as a delta on its base:
    only text never seen before is embedded, and nothing of the base is copied."""
    t0 = time.perf_counter()
    lay: Layers | None = index.layers
    base = lay.base if lay is not None else index
    delta = list(lay.delta) if lay is not None else []
    dead = set(lay.dead) if lay is not None else set()
    gone = set(remove) | {d.source for d in docs}
    by_sha = {s.sha: s for s in delta}
    base_hashes = base.hashes
    for source in gone:
        n = base.number(source)
        if n is not None and n not in dead:
            dead.add(n)
    kept = [s for s in delta if s.doc.source not in gone]
    fresh, reused = [], []
    base_by_sha = {sha: src for src, sha in base_hashes.items()}
    for d in docs:
        sha = hashes.get(d.source) or text_hash(d)
        prior = by_sha.get(sha)
        if prior is None and sha in base_by_sha and base.number(base_by_sha[sha]) is not None:
            prior = segments_of(base, [base.number(base_by_sha[sha])])[0]
        if prior is not None and prior.doc.text == d.text and prior.doc.title == d.title:
            reused.append(prior.renamed(d, sha))
        else:
            fresh.append(d)
    made = make_segments(fresh, index.settings, encode, hashes) if fresh else []
    delta = kept + reused + made
    live = {s.doc.source: s.sha for s in delta}
    live.update({d.source: base_hashes.get(d.source) or text_hash(d) for i, d in enumerate(base.docs) if i not in dead})
    manifest = {**index.manifest, "corpus_files": dict(sorted(live.items())), "skipped": list(skipped or []),
                "embedded_documents": len(fresh), "build_seconds": round(time.perf_counter() - t0, 3),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    changed = layered(base, delta, frozenset(dead), manifest)
    doc_col = base.sentences[:, 0]
    dead_sentences = sum(int(np.searchsorted(doc_col, d, "right") - np.searchsorted(doc_col, d, "left")) for d in dead)
    changed.manifest["counts"] = {"documents": len(live), "chunks": changed.passages,
                                  "sentences": len(changed.sentences) - dead_sentences}
    return changed


def outgrown(index: Index) -> bool:
    """Whether a changed index's changes are now large enough to be merged when it is next saved (a
    visitor's, never saved, never is)."""
    lay = index.layers
    return lay is not None and lay.dead_passages + lay.delta_passages > max(COMPACT_SHARE * len(lay.base.chunks), COMPACT_FROM)


def compacted(index: Index) -> Index:
    """``index`` as one index again, its delta and tombstones merged (the IVF's lists are kept when they still suit)."""
    if index.layers is None:
        return index
    base = index.layers.base
    merged = assemble(segments_of(index), index.settings, base.chunk_vectors.shape[1], index.manifest.get("skipped"),
                      embedded=index.manifest.get("embedded_documents", 0))
    for key in ("calibration", "skipped_lines", "skipped_files"):
        if key in index.manifest:
            merged.manifest[key] = index.manifest[key]
    merged.trained_ivf = base.ivf
    merged.folder = index.folder
    return merged


def dead_sources(index: Index) -> list[str]:
    """The sources of the base documents a changed index has removed or replaced (for its manifest)."""
    return sorted(index.layers.base.docs[i].source for i in index.layers.dead) if index.layers is not None else []


def base_numbers(base: Index, sources: list[str]) -> frozenset[int]:
    """The base's document numbers of ``sources`` (a saved delta names its tombstones by source)."""
    return frozenset(n for n in (base.number(s) for s in sources) if n is not None)


def folder_of(index: Index) -> Path | None:
    return Path(index.folder).resolve() if index.folder is not None else None
