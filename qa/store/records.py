"""Passage records as arrays, not Python objects.

A million passages held as ``Chunk`` objects, each with its own copy of its
text and a list of BM25 tokens, take gigabytes and many seconds to load. A
chunk is fully defined by its document and offsets (``chunk.text ==
document.text[start:end]``), so ``ChunkTable`` keeps three integer columns and
makes a ``Chunk`` only when one is asked for; ``TermsTable`` keeps the BM25
tokens of every chunk in one memory-mapped file; ``SentenceLists`` keeps the
sentence ids of every chunk end to end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from qa.types import Chunk, Document


class _Rows(Sequence):
    """A sequence whose items are made when asked for (``_row``); slices give lists."""

    def _row(self, i: int):
        raise NotImplementedError

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._row(i)

    def __iter__(self) -> Iterator:
        return (self._row(i) for i in range(len(self)))


class ChunkTable(_Rows):
    """The chunks of an index: ``table[i]`` is a ``Chunk``; slices give lists."""

    def __init__(self, docs: Sequence[Document], doc: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        self.docs = docs
        self.doc = np.asarray(doc, dtype=np.int32)
        self.start = np.asarray(start, dtype=np.int64)
        self.end = np.asarray(end, dtype=np.int64)

    @classmethod
    def of(cls, docs: Sequence[Document], chunks: Sequence[Chunk]) -> "ChunkTable":
        """From chunk objects in document order (their text must be their document's slice)."""
        if isinstance(chunks, ChunkTable):
            return chunks
        number = {d.source: i for i, d in enumerate(docs)}
        doc = np.fromiter((number[c.source] for c in chunks), dtype=np.int32, count=len(chunks))
        start = np.fromiter((c.start for c in chunks), dtype=np.int64, count=len(chunks))
        end = np.fromiter((c.end for c in chunks), dtype=np.int64, count=len(chunks))
        return cls(docs, doc, start, end)

    def __len__(self) -> int:
        return len(self.doc)

    def _row(self, i: int) -> Chunk:
        d = self.docs[int(self.doc[i])]
        a, b = int(self.start[i]), int(self.end[i])
        return Chunk(source=d.source, title=d.title, text=d.text[a:b], start=a, end=b)

    def __eq__(self, other: object) -> bool:  # compares as the list of chunks it stands for
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def of_document(self, number: int) -> range:
        """The chunk ids of document ``number`` (chunks are stored in document order)."""
        return range(int(np.searchsorted(self.doc, number, "left")), int(np.searchsorted(self.doc, number, "right")))

    def find(self, number: int, start: int, end: int) -> int | None:
        """The chunk of document ``number`` spanning exactly ``start``–``end``."""
        for i in self.of_document(number):
            if self.start[i] == start and self.end[i] == end:
                return i
        return None


class TermsTable(_Rows):
    """The BM25 tokens of each chunk, one line each in a file read through a memory map at the
    byte offsets stored beside it (``offsets[i]`` to ``offsets[i + 1] - 1``, without the newline)."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self._map = np.memmap(path, dtype=np.uint8, mode="r") if offsets[-1] else np.zeros(0, np.uint8)
        self._offsets = offsets

    @staticmethod
    def write(path: Path, terms: Sequence[Sequence[str]]) -> np.ndarray:
        """Write ``terms`` to ``path``; returns the byte offsets (one more than there are chunks)."""
        offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        with open(path, "wb") as f:
            for i, t in enumerate(terms):
                line = " ".join(t).encode("utf-8") + b"\n"
                f.write(line)
                offsets[i + 1] = offsets[i] + len(line)
        return offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _row(self, i: int) -> list[str]:
        a, b = int(self._offsets[i]), int(self._offsets[i + 1]) - 1
        return bytes(self._map[a:b]).decode("utf-8").split()



class SentenceLists(_Rows):
    """The sentence ids inside each chunk, end to end: ``lists[c]`` is chunk ``c``'s array."""

    def __init__(self, ptr: np.ndarray, ids: np.ndarray) -> None:
        self.ptr, self.ids = ptr, ids

    @classmethod
    def of(cls, sentences: np.ndarray, n_chunks: int) -> "SentenceLists":
        """From sentence rows (document, start, end, first chunk, last chunk)."""
        if not len(sentences):
            return cls(np.zeros(n_chunks + 1, dtype=np.int64), np.zeros(0, dtype=np.int32))
        first, last = sentences[:, 3].astype(np.int64), sentences[:, 4].astype(np.int64)
        if first.min() < 0 or last.max() >= n_chunks or (last < first).any():
            raise ValueError(f"sentence rows name chunks outside 0–{n_chunks - 1}")
        spans = last - first + 1
        sid = np.repeat(np.arange(len(sentences), dtype=np.int32), spans)
        chunk = np.repeat(first, spans) + (np.arange(spans.sum()) - np.repeat(np.cumsum(spans) - spans, spans))
        order = np.lexsort((sid, chunk))
        counts = np.bincount(chunk, minlength=n_chunks)[:n_chunks]
        return cls(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), sid[order])

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def _row(self, c: int) -> np.ndarray:
        return self.ids[self.ptr[c]:self.ptr[c + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.ptr)
