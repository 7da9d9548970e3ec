"""The one interface every store backend offers, so that ``Bot`` never asks which one it holds.

A store keeps one corpus's index somewhere (a folder searched with FAISS, Milvus Lite, a Milvus
server): it opens it (building or updating it when the corpus changed), answers the three candidate
searches of a question, and keeps the changes of ``Bot.add`` and ``Bot.remove``. A new backend is one
file here with a ``Store`` and a ``Search``; everything above it stays as it is.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from qa.store.record import Index, IndexSettings

if TYPE_CHECKING:
    from qa.embed.embedder import Embedder


@dataclass
class OpenRequest:
    """What a store needs to open a corpus's index, built or brought up to date as needed."""

    corpus: Path
    settings: IndexSettings
    hashes: dict[str, str]  # the corpus's files and their SHA-256 (``freshness.file_hashes``)
    others: list[Path]  # files of types no reader takes, found while hashing
    load_model: Callable[[], "Embedder"]  # called once the store's quick checks passed (a bad index fails first)
    say: Callable[[str], None]  # one-line progress messages
    calibrate: Callable[[Index, dict | None], None]  # fits the ranking to a built or changed collection
    needs_calibration: Callable[[dict | None, int], bool]  # whether an index's calibration is out of date
    chosen_vectors: str | None = None  # passage vectors the caller asked for; None keeps the index's own
    rebuild: bool = False
    replace_stale: bool = True  # False: an index built from other files is served as it is (a shared server)
    require_saved: bool = False  # an index that cannot be saved is an error, not served from memory (``qa index``)


class Search(Protocol):
    """A question's candidates, as one backend finds them."""

    def candidates(self, query_vector: np.ndarray, tokens: list[str], depth: int,
                   sentence_depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        """The chunks worth scoring (the top ``depth`` by passage vector and by BM25, and the chunks
        holding the top ``sentence_depth`` sentences), their BM25 scores, the query's best BM25 score in
        the whole collection, and the chunk that has it."""

    def chunk_terms(self, chunk: int) -> list[str]:
        """The BM25 tokens of one chunk."""


class Store(ABC):
    """Where one corpus's index lives."""

    where: str  # said in messages: a folder, a Milvus URI, "memory"

    @abstractmethod
    def open(self, request: OpenRequest) -> Index:
        """The corpus's index, built, updated or re-calibrated first when it does not match the corpus."""

    @property
    def rebuilt(self) -> bool:
        """Whether ``open`` built or updated the index (its skipped-file lines are then news)."""
        return False

    @abstractmethod
    def search(self, index: Index) -> Search:
        """The candidate searches over ``index``."""

    @abstractmethod
    def check_changes(self, index: Index) -> None:
        """Raise ``CorpusError`` (one line: why, and what to do) when documents cannot be added to or
        removed from ``index`` one by one here."""

    @abstractmethod
    def keep(self, index: Index) -> Index | None:
        """Keep ``index`` after ``Bot.add`` or ``Bot.remove`` changed it (saved, or held in memory); returns
        the index to serve from now on when it is another (a large index's changes merged as it was saved)."""

    def merge(self, index: Index) -> Index:
        """``index`` with its changes merged into it and saved, when they have grown large enough to be
        worth it (``layers.outgrown``); else ``index``. Slow (a re-assembly), so ``Bot`` calls it in the
        background. Stores that keep no changes beside a saved index have nothing to merge."""
        return index

    def private(self) -> "Store":
        """A store for one visitor's session: its changes stay in memory and with that session alone."""
        raise NotImplementedError
