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

    def token_counts(self, block: int = 8192) -> np.ndarray:
        """The number of tokens of every chunk (at least 1), from the spaces of its line: no lists made."""
        n = len(self)
        out = np.ones(n, dtype=np.int64)
        for a in range(0, n, block):
            b = min(n, a + block)
            lo = int(self._offsets[a])
            spaces = np.concatenate([[0], np.cumsum(np.asarray(self._map[lo:int(self._offsets[b])]) == 32)])
            out[a:b] = spaces[self._offsets[a + 1:b + 1] - lo - 1] - spaces[self._offsets[a:b] - lo] + 1
        return out



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

    def joined(self, other: "SentenceLists", sentence_offset: int) -> "SentenceLists":
        """These chunks' lists, then ``other``'s (whose sentence ids start at ``sentence_offset``)."""
        return SentenceLists(np.concatenate([self.ptr, self.ptr[-1] + other.ptr[1:]]),
                             np.concatenate([self.ids, other.ids + sentence_offset]).astype(np.int32))


class StackedRows:
    """The rows of several arrays as one array, without copying them: row ``i`` of the whole is row
    ``i`` of the first array, then of the next, and so on. A large index changed in place (``layers``)
    keeps its saved vectors memory-mapped and a small delta's vectors beside them this way."""

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = [p for p in parts if len(p)] or list(parts[:1])
        self.bounds = np.cumsum([0] + [len(p) for p in self.parts])
        self._first = int(self.bounds[1])
        self.dtype = np.result_type(*[p.dtype for p in self.parts])
        self.shape = (int(self.bounds[-1]), *self.parts[0].shape[1:])
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and 0 <= key < self._first:  # a row of the saved part: the common case, kept cheap
            return self.parts[0][key]
        if isinstance(key, tuple):  # rows, then columns: ``rows[:, 0]``, ``rows[a:b, 1:5]``
            if isinstance(key[0], slice) and key[0] == slice(None):
                return np.concatenate([p[(slice(None), *key[1:])] for p in self.parts])
            picked = self[key[0]]
            single = not isinstance(key[0], slice) and np.ndim(key[0]) == 0
            return picked[key[1:]] if single else picked[(slice(None), *key[1:])]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return np.asarray(self)[key]
            pieces = [p[max(start, a) - a:min(stop, z) - a] for p, a, z in zip(self.parts, self.bounds, self.bounds[1:])
                      if max(start, a) < min(stop, z)]
            if len(pieces) == 1:
                return pieces[0]  # a view (of a memory map, for the saved part)
            return np.concatenate(pieces, dtype=self.dtype) if pieces else np.zeros((0, *self.shape[1:]), self.dtype)
        if np.ndim(key) == 0:
            i = int(key) + (len(self) if int(key) < 0 else 0)
            k = int(np.searchsorted(self.bounds, i, "right")) - 1
            return self.parts[k][i - self.bounds[k]]
        return self.gather(np.asarray(key, dtype=np.int64), lambda part, ids: part[ids])

    def __iter__(self) -> Iterator:
        for p in self.parts:
            yield from p

    def gather(self, ids: np.ndarray, take) -> np.ndarray:
        """Rows ``ids``, each part's read by ``take(part, local ids)`` (``vectors.rows`` reads a memory map's in parallel)."""
        out = np.empty((len(ids), *self.shape[1:]), dtype=np.float32 if self.dtype.kind == "f" else self.dtype)
        part = np.searchsorted(self.bounds, ids, "right") - 1
        for k, p in enumerate(self.parts):
            mine = part == k
            if mine.any():
                out[mine] = take(p, ids[mine] - self.bounds[k])
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.concatenate([np.asarray(p) for p in self.parts], dtype=dtype or self.dtype)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return np.asarray(self, dtype=dtype)

    def __matmul__(self, q: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(p, dtype=np.float32) @ q for p in self.parts])


class ChainedRows(_Rows):
    """Several sequences read as one (the BM25 terms of a saved index, then of its delta)."""

    def __init__(self, parts: Sequence[Sequence]) -> None:
        self.parts = list(parts)
        self.bounds = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def _row(self, i: int):
        k = int(np.searchsorted(self.bounds, i, "right")) - 1
        return self.parts[k][i - int(self.bounds[k])]
