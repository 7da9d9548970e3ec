"""The index as one record (``Index``) and the settings it was built with (``IndexSettings``)."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from qa.errors import CorpusError
from qa.ingest import READERS_VERSION
from qa.ingest.chunking import ChunkSettings
from qa.store.lexical import TOKENIZER_VERSION, Lexical
from qa.store.records import ChunkTable, SentenceLists
from qa.types import Chunk, Document

FORMAT_VERSION = 2
# An index with changes kept beside it (``layers``): a version that does not know them must not read it as whole.
DELTA_FORMAT_VERSION = 3
MANIFEST = "manifest.json"
# Two chunks are near-duplicates when this share of their word 5-grams is shared
# (containment of the smaller). 0.6 catches re-published copies whose chunk
# boundaries differ, and not two passages that merely quote one sentence alike.
DUPLICATE_CONTAINMENT = 0.6


PASSAGE_VECTORS = ("encoded", "summed")


@dataclass(frozen=True)
class IndexSettings:
    """Everything that changes the index's content; stored in the manifest."""

    model: str
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    title_in_embedding: bool = True
    # "encoded": passages and sentences each embedded on their own (two model passes); "summed": only the
    # sentences are, and a passage's vector is the sum of its sentences' token vectors (about half the
    # time, for mean-pooled models; retrieval within 0.01-0.02 of "encoded": bench/README.md).
    passage_vectors: str = field(default_factory=lambda: os.environ.get("QA_PASSAGE_VECTORS", "encoded"))

    def __post_init__(self) -> None:
        if self.passage_vectors not in PASSAGE_VECTORS:
            raise CorpusError(f"Passage vectors {self.passage_vectors!r} are not known: use one of "
                              f"{', '.join(PASSAGE_VECTORS)} (QA_PASSAGE_VECTORS, --passage-vectors).")

    @classmethod
    def from_dict(cls, s: dict) -> "IndexSettings":
        """The settings a manifest recorded (``to_dict``'s output)."""
        return cls(model=s["model"], chunking=ChunkSettings(**s["chunking"]), title_in_embedding=s["title_in_embedding"],
                   passage_vectors=s.get("passage_vectors", "encoded"))

    def to_dict(self) -> dict:
        return {"model": self.model, "chunking": asdict(self.chunking), "title_in_embedding": self.title_in_embedding,
                "tokenizer": TOKENIZER_VERSION, "readers": READERS_VERSION,
                # absent for the default, so indexes written before the choice existed stay valid
                **({"passage_vectors": self.passage_vectors} if self.passage_vectors != "encoded" else {})}


@dataclass
class Index:
    """Everything retrieval needs: in memory, or for a large index memory-mapped (see the module doc)."""

    settings: IndexSettings
    docs: list[Document]  # by document number, sorted by source
    chunks: Sequence[Chunk]  # a ChunkTable (lists of chunks are converted)
    groups: np.ndarray  # near-duplicate group of each chunk (the lowest chunk id in the group)
    chunk_vectors: np.ndarray  # (n_chunks, dim) normalised: float32 in memory, or float16 memory-mapped
    sentences: np.ndarray  # (n_sentences, 5) int32: doc, start, end, first chunk, last chunk
    sentence_vectors: np.ndarray
    chunk_sentences: Sequence[np.ndarray]  # sentence ids inside each chunk (a SentenceLists)
    lexical: Lexical
    manifest: dict
    terms: Sequence[list[str]] = field(default_factory=list)  # BM25 tokens of each chunk, kept for updates
    ivf: Any = field(default=None, repr=False)  # a large index's IVF over the chunk vectors (None: exact search)
    sums: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # from a summed build, never saved
    # An IVF trained on an earlier version of this collection (an update's): save refills it rather than
    # training anew while the collection's size still suits its lists. Never searched.
    trained_ivf: Any = field(default=None, repr=False)
    # A large index changed in place: the saved index it stands on, its delta and tombstones (``layers``).
    layers: Any = field(default=None, repr=False)
    folder: Any = field(default=None, repr=False)  # where this index was loaded from or saved (a Path)
    bm25_lengths: Any = field(default=None, repr=False)  # each chunk's BM25 length, read when it is first changed
    _by_source: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.chunks, ChunkTable):
            self.chunks = ChunkTable.of(self.docs, self.chunks)
        if not isinstance(self.chunk_sentences, SentenceLists):
            self.chunk_sentences = SentenceLists.of(self.sentences, len(self.chunks))

    @property
    def dead(self) -> frozenset[int]:
        """Numbers of documents removed or replaced since the saved index a changed large index stands on."""
        return self.layers.dead if self.layers is not None else frozenset()

    @property
    def live_docs(self) -> list[Document]:
        """The documents this index holds, by source (``docs`` also keeps a changed large index's removed ones)."""
        if self.layers is None:
            return self.docs
        return sorted((d for i, d in enumerate(self.docs) if i not in self.dead), key=lambda d: d.source)

    @property
    def document_count(self) -> int:
        return len(self.docs) - len(self.dead)

    @property
    def documents(self) -> list[str]:
        return [d.source for d in self.live_docs]

    @property
    def passages(self) -> int:
        """How many passages this index holds (``len(chunks)`` also counts removed ones not yet compacted)."""
        return len(self.chunks) - (self.layers.dead_passages if self.layers is not None else 0)

    def number(self, source: str) -> int | None:
        """The document number of ``source`` (None if this index does not hold it)."""
        dead = self.dead
        if len(self._by_source) != len(self.docs) - len(dead):
            self._by_source = {d.source: i for i, d in enumerate(self.docs) if i not in dead}
        return self._by_source.get(source)

    def document(self, source: str) -> Document | None:
        i = self.number(source)
        return self.docs[i] if i is not None else None

    def chunk_at(self, source: str, start: int, end: int) -> int | None:
        """The chunk id of a citation's passage (None if this index has no such passage)."""
        i = self.number(source)
        return self.chunks.find(i, start, end) if i is not None else None

    def chunks_of(self, source: str) -> range:
        """The chunk ids of a document, in text order (empty if this index does not hold it)."""
        i = self.number(source)
        return self.chunks.of_document(i) if i is not None else range(0)

    def passage_sentences(self, chunk: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The sentences of a chunk as (start, end) inside its text, and their stored vectors."""
        c, sids = self.chunks[chunk], self.chunk_sentences[chunk]
        spans = [(max(int(a), c.start) - c.start, min(int(b), c.end) - c.start) for _, a, b, _, _ in self.sentences[sids]]
        return spans, self.sentence_vectors[sids]

    @property
    def hashes(self) -> dict[str, str]:
        return dict(self.manifest.get("corpus_files", {}))

# ---------------------------------------------------------------- hashing
