"""The default store: the index in a folder on disk (``persist``), searched in memory with FAISS.

Opening compares the folder's manifest with the corpus and the settings: an index that matches is
loaded as it is; one whose files changed is updated (only new or changed files are embedded); one
built with other settings, damaged or missing is built again. A session's store (``private``) has no
folder: a visitor's uploads change its index in memory only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.errors import BadIndexError, CorpusError, SaveError
from qa.store.base import OpenRequest, Store
from qa.store.freshness import (
    keep_passage_vectors,
    only_tokenizer_changed,
    settings_changed,
    staleness,
)
from qa.store.persist import compact, layout_outdated, load, read_manifest, recover, save
from qa.store.record import MANIFEST, Index
from qa.store.records import StackedRows
from qa.store.segments import build_from_folder, refresh, retokenized
from qa.store.vectors import VectorSearch


class FaissStore(Store):
    """An index saved in ``path`` (None: held in memory only, as a visitor's session holds it)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.where = str(path) if path is not None else "memory"
        self._rebuilt = False

    @property
    def rebuilt(self) -> bool:
        return self._rebuilt

    def open(self, request: OpenRequest) -> Index:
        r, path = request, self.path
        if path is None:
            raise CorpusError("A session's index is made from another bot's (``Bot.session``), not opened.")
        settings = r.settings
        reason = "you asked for a rebuild" if r.rebuild else None
        loaded: Index | None = None
        changed: str | None = None
        recover(path)
        if reason is None:
            try:
                manifest = read_manifest(path)
                settings = keep_passage_vectors(settings, manifest, r.chosen_vectors)
                if only_tokenizer_changed(manifest, settings):
                    r.say("Re-reading the index's words with this version's tokenizer (vectors kept) …")
                    save(retokenized(load(path), settings), path)
                    manifest = read_manifest(path)
                reason = settings_changed(manifest, settings)
                if reason is None:
                    loaded = load(path)
                    changed = staleness(manifest, settings, r.hashes)
            except BadIndexError as err:
                loaded = None
                reason = str(err).rstrip(".") if (path / MANIFEST).exists() else f"there is no index at {path} yet"
        embedder = r.load_model()
        previous = loaded.manifest.get("calibration") if loaded is not None else None
        if loaded is None:
            r.say(f"Building the index of {r.corpus} at {path}: {reason}.")
            loaded = build_from_folder(r.corpus, settings, embedder.encode, r.hashes)
        elif changed:
            r.say(f"Updating the index of {r.corpus}: {changed.removeprefix('the corpus has ')}.")
            loaded = refresh(loaded, r.corpus, embedder.encode, r.hashes, r.others)
        relayout = layout_outdated(loaded)
        if relayout and not (reason or changed):
            r.say(f"Saving the index in the {'large' if loaded.ivf is None else 'flat'} layout for its "
                  f"{loaded.passages:,} passages (once) …")
        if reason or changed or relayout or r.needs_calibration(previous, loaded.passages):
            r.calibrate(loaded, previous)
            try:
                loaded = save(loaded, path)
            except SaveError as err:
                if r.require_saved:
                    raise
                r.say(f"{err} Meanwhile, questions are answered from the index in memory.")
        self._rebuilt = bool(reason or changed)
        return loaded

    def search(self, index: Index) -> "FaissSearch":
        return FaissSearch(index)

    def check_changes(self, index: Index) -> None:
        """Any index takes changes here: a large one keeps them beside its saved files (``layers``), so a
        visitor's uploads into a large shared collection copy none of it."""

    def keep(self, index: Index) -> Index:
        return save(index, self.path) if self.path is not None else index

    def merge(self, index: Index) -> Index:
        from qa.store.layers import outgrown

        return compact(index, self.path) if self.path is not None and outgrown(index) else index

    def private(self) -> "FaissStore":
        return FaissStore(None)


class FaissSearch:
    """Passages by vector (exact, or an IVF for a large index), sentences by vector, and bm25s."""

    def __init__(self, index: Index) -> None:
        self.index = index
        lay = index.layers
        if lay is None:
            self._chunks = VectorSearch(index.chunk_vectors, index.ivf)
            self._delta, self._offset = None, len(index.chunks)
        else:  # a changed large index: its base's IVF, its removed passages skipped, and its delta searched exactly
            self._chunks = VectorSearch(lay.base.chunk_vectors, lay.base.ivf, skip=lay.dead_chunks)
            self._offset = len(lay.base.chunks)
            added = index.chunk_vectors.parts[1] if isinstance(index.chunk_vectors, StackedRows) else None
            self._delta = VectorSearch(added) if added is not None else None
        # A large index (an IVF) searches no sentence list: its candidates' sentences are scored instead.
        self._sentences = VectorSearch(index.sentence_vectors) if index.ivf is None else None

    def _dense(self, query_vector: np.ndarray, depth: int) -> np.ndarray:
        """The ``depth`` passages nearest the question: the base's and the delta's, merged by score."""
        if self._delta is None:
            return self._chunks.search(query_vector, depth)
        ids, scores = self._chunks.scored(query_vector, depth)
        more, more_scores = self._delta.scored(query_vector, depth)
        ids, scores = np.concatenate([ids, more + self._offset]), np.concatenate([scores, more_scores])
        return ids[np.argsort(-scores, kind="stable")[:depth]]

    def chunk_terms(self, chunk: int) -> list[str]:
        """The BM25 tokens of a chunk (kept in the index)."""
        return self.index.terms[chunk] if self.index.terms else []

    def candidates(self, query_vector: np.ndarray, tokens: list[str], depth: int,
                   sentence_depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        ix = self.index
        dense_ids = self._dense(query_vector, depth)
        sent_ids = self._sentences.search(query_vector, sentence_depth) if self._sentences else []
        bm25 = ix.lexical.scores(tokens)
        top_bm25 = top_scores(bm25, depth)

        candidates = set(dense_ids.tolist())
        candidates.update(int(i) for i in top_bm25)
        for sid in sent_ids:
            _, _, _, first, last = ix.sentences[sid]
            candidates.update(range(int(first), int(last) + 1))
        cand = np.fromiter(candidates, dtype=np.int64)
        top = bm25[top_bm25]
        best = int(top_bm25[top == top.max()].min()) if len(top_bm25) else 0  # the first chunk among ties, as argmax
        return cand, bm25[cand], float(bm25[best]), best


def top_scores(scores: np.ndarray, depth: int) -> np.ndarray:
    """The ids of the ``depth`` highest positive scores, in no order.

    At a million passages a question's words occur in a quarter of them, and a partition of every
    score took 5 ms (72 ms at p95: it degrades on the many ties at 0). Halving a threshold from the
    best score finds a small set that holds the top ``depth`` in a few cheap passes."""
    best = float(scores.max()) if scores.size else 0.0
    if not np.isfinite(best) or np.isnan(scores).any():  # a damaged index: never loop on NaN or infinity
        scores = np.nan_to_num(scores, nan=0.0, posinf=np.finfo(np.float32).max, neginf=0.0)
        best = float(scores.max())
    if best <= 0:
        return np.array([], dtype=np.int64)
    threshold = best / 2
    while True:
        ids = np.flatnonzero(scores >= threshold)
        if len(ids) >= depth or threshold < best * 1e-4:
            break
        threshold /= 4
    if len(ids) < depth:
        ids = np.flatnonzero(scores > 0)
    if len(ids) > depth:
        ids = ids[np.argpartition(scores[ids], len(ids) - depth)[-depth:]]
    return ids
