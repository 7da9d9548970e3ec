"""Build, update, save (atomically), load and check the freshness of the persisted index.

On disk (one folder):
    manifest.json    what was indexed and how; a checksum of every other file
    documents.jsonl  one document per line: source, kind, title, extracted text, page starts, headings
    chunks.jsonl     one chunk record per line (source, title, start, end, text, group, BM25 terms)
    sentences.npy    int32 rows (document number, start, end, first chunk, last chunk)
    chunks.faiss     chunk vectors, inner product on normalised vectors
    sentences.faiss  sentence vectors, for highlighting and sentence-level evidence
    bm25/            the bm25s lexical index of the chunks

A large index (``vectors.ann_from()`` passages or more; manifest ``"layout": "large"``) keeps its
records and vectors out of Python objects instead of ``chunks.jsonl`` and the two flat files:
    chunks.npy       int64 rows (document number, start, end, near-duplicate group)
    terms.txt        the BM25 terms of each chunk, one line each; terms.npy their byte offsets
    chunks.f16.npy   chunk vectors, float16, read through a memory map
    sentences.f16.npy  sentence vectors, float16, read through a memory map
    chunks.ivf       the IVF index that searches the chunk vectors

An index is a row of per-document *segments* (a document's chunks, sentences and vectors).
A rebuild after a change keeps the segments of unchanged files and embeds only the new or
changed ones: a document's vectors depend only on its text and the settings, which the
manifest keys by content hash and model.
"""
from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import logging
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .chunking import ChunkSettings, chunk_document, make_splitter, sentence_spans
from .documents import corpus_files, load_documents, unsupported_warning
from .errors import BadIndexError, CorpusError, SaveError
from .ingest import READERS_VERSION
from .lexical import TOKENIZER_VERSION, Lexical, tokenize
from .records import ChunkTable, SentenceLists, TermsTable
from .types import Chunk, Document, Heading
from .vectors import ann_from, open_vectors, read_ivf, refill_ivf, save_vectors, train_ivf

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
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
    _by_source: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.chunks, ChunkTable):
            self.chunks = ChunkTable.of(self.docs, self.chunks)
        if not isinstance(self.chunk_sentences, SentenceLists):
            self.chunk_sentences = SentenceLists.of(self.sentences, len(self.chunks))

    @property
    def documents(self) -> list[str]:
        return [d.source for d in self.docs]

    def number(self, source: str) -> int | None:
        """The document number of ``source`` (None if this index does not hold it)."""
        if len(self._by_source) != len(self.docs):
            self._by_source = {d.source: i for i, d in enumerate(self.docs)}
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

def file_hashes(corpus: Path, others: list[Path] | None = None) -> dict[str, str]:
    """sha256 of every indexable file, by source; ``others`` collects files of unsupported types."""
    root = str(Path(corpus)) + os.sep
    out = {}
    for path in corpus_files(corpus, others):
        source = str(path)[len(root):].replace(os.sep, "/")
        try:
            out[source] = file_sha(path)
        except OSError as err:  # the reader will say so, for this file alone
            out[source] = f"unreadable:{err.errno}"
    return out


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


SAMPLED = "sampled:"
SAMPLE_FROM = 256 << 20  # bytes: a larger file is spot-checked at load, not read whole
SAMPLES = 64


def file_digest(path: Path, sampled: bool | None = None) -> str:
    """The SHA-256 of a file, or for a file over 256 MB (a large index's vectors) of its size and 64
    evenly spaced 1 MB blocks: reading gigabytes at every start would cost more than the rest of loading,
    and a truncated, swapped or overwritten file is still caught."""
    size = path.stat().st_size
    if not (size > SAMPLE_FROM if sampled is None else sampled):
        return file_sha(path)
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for n in range(SAMPLES):
            f.seek(max(0, (size - (1 << 20)) * n // (SAMPLES - 1)))
            h.update(f.read(1 << 20))
    return SAMPLED + h.hexdigest()


def text_hash(doc: Document) -> str:
    """For documents that come with no file (benchmarks, tests)."""
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()


# ---------------------------------------------------------------- segments: one document's share of the index

@dataclass
class Segment:
    doc: Document
    sha: str
    chunks: list[Chunk]
    terms: list[list[str]]
    sentences: np.ndarray  # (n, 4) int32: start, end, first and last chunk, local to this segment
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    # Summed passage vectors only, while building: each sentence's token-vector sum and each passage's
    # norm before normalising, so calibration can take a sentence out of a passage without embedding it.
    sums: tuple[np.ndarray, np.ndarray] | None = None

    def renamed(self, doc: Document, sha: str) -> "Segment":
        """The same text under another name (a moved or re-added file): no new embedding needed."""
        chunks = [replace(c, source=doc.source, title=doc.title) for c in self.chunks]
        return replace(self, doc=doc, sha=sha, chunks=chunks)


def embed_text(chunk_title: str, text: str, with_title: bool) -> str:
    """What the model sees for a chunk: the title gives a passage its topic."""
    if with_title and chunk_title and not text.startswith(chunk_title):
        return f"{chunk_title}\n{text}"
    return text


def lexical_text(c: Chunk, with_title: bool) -> str:
    return f"{c.title}\n{c.text}" if with_title else c.text


def make_segments(docs: list[Document], settings: IndexSettings, encode: Callable[..., np.ndarray],
                  hashes: dict[str, str] | None = None) -> list[Segment]:
    """Chunk and embed ``docs``: two encoder calls in all (passages, then sentences), however many documents."""
    splitter = make_splitter(settings.chunking)
    per_doc = []
    for d in docs:
        chunks = chunk_document(d, settings.chunking, splitter)
        starts, ends = [c.start for c in chunks], [c.end for c in chunks]  # both ascend
        rows = []
        for s, e in sentence_spans(d.text):
            first, last = bisect.bisect_right(ends, s), bisect.bisect_left(starts, e) - 1
            if first <= last:
                rows.append((s, e, first, last))
        per_doc.append((chunks, np.asarray(rows, dtype=np.int32).reshape(-1, 4)))
    texts = [embed_text(c.title, c.text, settings.title_in_embedding) for chunks, _ in per_doc for c in chunks]
    sent_texts = [d.text[r[0]:r[1]] for d, (_, rows) in zip(docs, per_doc) for r in rows]
    embedder = getattr(encode, "__self__", None)  # a bound Embedder.encode can also sum token vectors
    sums = norms = None
    if settings.passage_vectors == "summed" and getattr(embedder, "sums_tokens", False):
        chunk_vectors, sentence_vectors, sums, norms = _summed_vectors(embedder, texts, per_doc, sent_texts)
    else:
        chunk_vectors, sentence_vectors = _encoded_once(encode, texts, sent_texts)
    segments, ci, si = [], 0, 0
    for d, (chunks, rows) in zip(docs, per_doc):
        segments.append(Segment(
            doc=d, sha=(hashes or {}).get(d.source) or text_hash(d), chunks=chunks,
            terms=[tokenize(lexical_text(c, settings.title_in_embedding)) for c in chunks], sentences=rows,
            chunk_vectors=chunk_vectors[ci:ci + len(chunks)], sentence_vectors=sentence_vectors[si:si + len(rows)],
            sums=None if sums is None else (sums[si:si + len(rows)], norms[ci:ci + len(chunks)])))
        ci, si = ci + len(chunks), si + len(rows)
    return segments


def _encoded_once(encode: Callable[..., np.ndarray], texts: list[str], sent_texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Passage and sentence vectors from one encoder call over each distinct text once.

    Collections repeat themselves: a one-sentence passage is its own sentence, and headers, footers,
    disclaimers and copied passages recur (MS MARCO-5k: 21,691 texts, 18,077 distinct, 12% of the
    characters saved). One call also sorts passages and sentences together by length, so batches pad less."""
    position: dict[str, int] = {}
    rows = np.fromiter((position.setdefault(t, len(position)) for t in [*texts, *sent_texts]), dtype=np.int64,
                       count=len(texts) + len(sent_texts))
    vectors = encode(list(position), progress=True, desc="Embedding passages and sentences")
    return vectors[rows[:len(texts)]], vectors[rows[len(texts):]]


def _summed_vectors(embedder, texts: list[str], per_doc: list[tuple[list[Chunk], np.ndarray]],
                    sent_texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sentences embedded on their own; each passage's vector is the sum of its sentences' token vectors
    (and its title's), normalised: one pass over the sentences only, which are shorter and so cheaper
    per token than whole passages. What is lost is the context one sentence gives another."""
    sentence_vectors, sums = embedder.encode_sums(sent_texts, progress=True, desc="Embedding sentences")
    titles = sorted({c.title for chunks, _ in per_doc for c in chunks if c.title})
    tsums = embedder.encode_sums(titles)[1] if titles else np.zeros((0, sums.shape[1]), np.float32)
    tvec = dict(zip(titles, tsums))
    chunk_vectors = np.zeros((len(texts), sums.shape[1]), dtype=np.float32)
    base = sid = 0
    for chunks, rows in per_doc:
        for s, e, first, last in rows.tolist():
            chunk_vectors[base + first:base + last + 1] += sums[sid]
            sid += 1
        for k, c in enumerate(chunks):
            if c.title and texts[base + k] != c.text:
                chunk_vectors[base + k] += tvec[c.title]
        base += len(chunks)
    norms = np.maximum(np.linalg.norm(chunk_vectors, axis=1), 1e-9)
    chunk_vectors /= norms[:, None]
    return chunk_vectors, sentence_vectors, sums, norms


def segments_of(index: Index, numbers: Sequence[int] | None = None) -> list[Segment]:
    """The index cut back into its documents' segments (views, no copies): all, or those of the
    document ``numbers``."""
    out = []
    doc_col = index.sentences[:, 0] if len(index.sentences) else np.zeros(0, dtype=np.int32)
    sent_bounds = np.searchsorted(doc_col, np.arange(len(index.docs) + 1))  # sentences are grouped by document
    hashes = index.hashes
    for di in (range(len(index.docs)) if numbers is None else numbers):
        d = index.docs[di]
        own = index.chunks.of_document(di)
        c0, ci = own.start, own.stop
        s0, s1 = int(sent_bounds[di]), int(sent_bounds[di + 1])
        rows = index.sentences[s0:s1, 1:5].astype(np.int32) - np.array([0, 0, c0, c0], dtype=np.int32)
        out.append(Segment(doc=d, sha=hashes.get(d.source) or text_hash(d), chunks=index.chunks[c0:ci],
                           terms=index.terms[c0:ci], sentences=rows, chunk_vectors=index.chunk_vectors[c0:ci],
                           sentence_vectors=index.sentence_vectors[s0:s1],
                           sums=None if index.sums is None else (index.sums[0][s0:s1], index.sums[1][c0:ci])))
    return out


def assemble(segments: list[Segment], settings: IndexSettings, dimension: int, skipped: list[str] | None = None,
             started: float | None = None, embedded: int = 0) -> Index:
    """One index from segments, in source order (so an update gives what a rebuild would)."""
    segments = sorted(segments, key=lambda s: s.doc.source)
    chunks = [c for s in segments for c in s.chunks]
    terms = [t for s in segments for t in s.terms]
    rows, ci = [], 0
    for di, s in enumerate(segments):
        if len(s.sentences):
            r = s.sentences.astype(np.int32)
            rows.append(np.column_stack([np.full(len(r), di, dtype=np.int32), r[:, 0], r[:, 1], r[:, 2] + ci, r[:, 3] + ci]))
        ci += len(s.chunks)
    sentences = np.concatenate(rows).astype(np.int32) if rows else np.zeros((0, 5), dtype=np.int32)

    def stack(arrays):
        """One array; float16 stays float16 (a large index's update does not double its vectors' memory)."""
        arrays = [a for a in arrays if len(a)]
        if not arrays:
            return np.zeros((0, dimension), np.float32)
        half = any(a.dtype == np.float16 for a in arrays)
        return np.concatenate(arrays, dtype=np.float16 if half else np.float32)

    chunk_vectors = stack([s.chunk_vectors for s in segments])
    sentence_vectors = stack([s.sentence_vectors for s in segments])
    sums = None
    if segments and all(s.sums is not None for s in segments):  # a whole summed build: kept for calibration
        sums = (stack([s.sums[0] for s in segments]), np.concatenate([s.sums[1] for s in segments]).astype(np.float32))
    manifest = {
        "format_version": FORMAT_VERSION,
        "settings": settings.to_dict(),
        "dimension": int(dimension),
        "corpus_files": {s.doc.source: s.sha for s in segments},
        "skipped": list(skipped or []),
        "counts": {"documents": len(segments), "chunks": len(chunks), "sentences": len(sentences)},
        "embedded_documents": embedded,
        "build_seconds": round(time.perf_counter() - started, 3) if started else None,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Index(
        settings=settings, docs=[s.doc for s in segments], chunks=chunks, groups=near_duplicate_groups(chunks),
        chunk_vectors=chunk_vectors, sentences=sentences, sentence_vectors=sentence_vectors,
        chunk_sentences=chunk_sentences(sentences, len(chunks)),
        lexical=Lexical.from_tokens(terms), manifest=manifest, terms=terms, sums=sums,
    )


def sample(index: Index, passages: int, seed: int = 0) -> Index:
    """An index of whole documents of ``index`` drawn at random, up to ``passages`` passages, from
    their segments (the vectors are ``index``'s own: nothing is embedded again)."""
    sizes = np.bincount(index.chunks.doc, minlength=len(index.docs))
    order = list(range(len(index.docs)))
    random.Random(seed).shuffle(order)
    kept, total = [], 0
    for d in order:
        if total + sizes[d] <= passages:
            kept.append(d)
            total += int(sizes[d])
    return assemble(segments_of(index, sorted(kept)), index.settings, index.chunk_vectors.shape[1])


def chunk_sentences(sentences: np.ndarray, n_chunks: int) -> SentenceLists:
    """The sentence ids inside each chunk, from the sentence rows' first and last chunk."""
    return SentenceLists.of(sentences, n_chunks)


def build(docs: list[Document], settings: IndexSettings, encode: Callable[..., np.ndarray], skipped: list[str] | None = None,
          hashes: dict[str, str] | None = None) -> Index:
    """Chunk, embed and index ``docs``. ``encode(texts, progress=, desc=)`` returns normalised vectors."""
    t0 = time.perf_counter()
    segments = make_segments(docs, settings, encode, hashes)
    dim = next((s.chunk_vectors.shape[1] for s in segments if len(s.chunk_vectors)), 0)
    if not dim:
        dim = int(encode(["x"]).shape[1])
    return assemble(segments, settings, dim, skipped, t0, embedded=len(docs))


def update(index: Index, docs: list[Document], remove: set[str] | frozenset[str], encode: Callable[..., np.ndarray],
           hashes: dict[str, str] | None = None, skipped: list[str] | None = None) -> Index:
    """``index`` with ``remove`` dropped and ``docs`` added or replaced; only text never seen
    before is embedded (a renamed or restored file reuses the vectors its content already has)."""
    t0 = time.perf_counter()
    hashes = hashes or {}
    new_sources = {d.source for d in docs}
    old = segments_of(index)
    by_sha = {s.sha: s for s in old}
    keep = [s for s in old if s.doc.source not in remove and s.doc.source not in new_sources]
    fresh, reused = [], []
    for d in docs:
        sha = hashes.get(d.source) or text_hash(d)
        prior = by_sha.get(sha)
        if prior is not None and prior.doc.text == d.text and prior.doc.title == d.title:
            reused.append(prior.renamed(d, sha))
        else:
            fresh.append(d)
    made = make_segments(fresh, index.settings, encode, hashes) if fresh else []
    dim = index.manifest.get("dimension") or next((s.chunk_vectors.shape[1] for s in made if len(s.chunk_vectors)), 0)
    updated = assemble(keep + reused + made, index.settings, dim, skipped, t0, embedded=len(fresh))
    updated.trained_ivf = index.ivf if index.ivf is not None else index.trained_ivf
    return updated


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

def document_record(d: Document) -> dict:
    """A document as stored (a JSON object); ``document_from_record`` reads it back."""
    return {"source": d.source, "kind": d.kind, "title": d.title, "pages": list(d.pages),
            "headings": [[h.start, h.level, h.text] for h in d.headings], "text": d.text}


def document_from_record(r: dict) -> Document:
    return Document(source=r["source"], title=r["title"], text=r["text"], kind=r["kind"],
                    pages=tuple(r["pages"]), headings=tuple(Heading(*h) for h in r["headings"]))


def save(index: Index, folder: str | Path) -> None:
    """Write to a temporary folder beside ``folder``, then swap it in.

    An interrupted save leaves the previous index in place (or, in the instant
    between the two renames, as ``<folder>.old-*``, which ``load`` restores).
    A large index's IVF, trained here when it has none, is kept on ``index``, so
    the bot that built it searches as the saved index will (save a copy to keep
    ``index`` as it was).
    """
    target = Path(folder).resolve()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MANIFEST).exists())):
        raise BadIndexError(f"{target} exists and is not a qa index; it will not be replaced. "
                            "Pass an empty or new folder with --index (or QA_INDEX).")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise SaveError(f"Cannot write the index beside {target} ({err.strerror}): "
                        "pass a writable folder with --index (or QA_INDEX).") from err
    try:
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in index.docs:
                f.write(json.dumps(document_record(d), ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", index.sentences)
        manifest = dict(index.manifest)
        if len(index.chunks) >= ann_from():
            _write_large(index, tmp)
            manifest["layout"] = "large"
        else:
            _write_flat(index, tmp)
            manifest.pop("layout", None)
        index.lexical.save(tmp / "bm25")
        manifest["checksums"] = {p.relative_to(tmp).as_posix(): file_digest(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        index.manifest = manifest
        _swap_in(tmp, target)
    except (OSError, RuntimeError) as err:  # a full disk, a file-size limit; FAISS reports its write errors as RuntimeError
        if isinstance(err, RuntimeError) and "write" not in str(err).lower():
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        why = _full_disk_note(err, target.parent) or getattr(err, "strerror", None) or str(err).strip().splitlines()[-1][:200]
        shutil.rmtree(tmp, ignore_errors=True)
        raise SaveError(f"Could not save the index at {target} ({why}); the previous index is intact. "
                        "Free some disk space (or pass another folder with --index) and run again.") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _full_disk_note(err: Exception, folder: Path) -> str | None:
    """Says so when FAISS failed to write because the disk holding ``folder`` is full: its errors carry
    no errno ("'ret == (size * 4)' failed"), so by the space left (under 1 MB). An ``OSError`` says
    it itself ("No space left on device")."""
    if isinstance(err, OSError):
        return None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return f"no space left on the disk: {free // 1024:,} KB free" if free < 1 << 20 else None


def layout_outdated(index: Index) -> bool:
    """Whether ``index`` was saved in the other layout than its size calls for (an older version's
    index grown past ``ann_from()``, or ``QA_ANN_FROM`` changed): saving it again converts it."""
    return (index.manifest.get("layout") == "large") != (len(index.chunks) >= ann_from())


def _write_flat(index: Index, tmp: Path) -> None:
    import faiss

    terms = index.terms or [[]] * len(index.chunks)
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for i, c in enumerate(index.chunks):
            f.write(json.dumps({"source": c.source, "title": c.title, "start": c.start, "end": c.end, "text": c.text,
                                "group": int(index.groups[i]), "terms": " ".join(terms[i])}, ensure_ascii=False) + "\n")
    for name, vecs in (("chunks.faiss", index.chunk_vectors), ("sentences.faiss", index.sentence_vectors)):
        flat = faiss.IndexFlatIP(vecs.shape[1] if vecs.size else index.manifest["dimension"] or 1)
        if len(vecs):
            flat.add(np.ascontiguousarray(vecs, dtype=np.float32))
        faiss.write_index(flat, str(tmp / name))


def _write_large(index: Index, tmp: Path) -> None:
    """Records as columns, vectors as float16 files, and the IVF (trained now unless the index has a current one)."""
    import faiss

    t = index.chunks
    np.save(tmp / "chunks.npy", np.column_stack([t.doc, t.start, t.end, index.groups]).astype(np.int64))
    np.save(tmp / "terms.npy", TermsTable.write(tmp / "terms.txt", index.terms or [[]] * len(t)))
    save_vectors(tmp / "chunks.f16.npy", index.chunk_vectors)
    save_vectors(tmp / "sentences.f16.npy", index.sentence_vectors)
    if index.ivf is None or index.ivf.ntotal != len(t):
        index.ivf = refill_ivf(index.trained_ivf, index.chunk_vectors)
        if index.ivf is None:
            log.info("Training the IVF search over %d passages.", len(t))
            index.ivf = train_ivf(index.chunk_vectors)
    faiss.write_index(index.ivf, str(tmp / "chunks.ivf"))


def _swap_in(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def recover(folder: str | Path) -> None:
    """Undo what an interrupted save left: restore a parked old index, drop temp folders."""
    target = Path(folder).resolve()
    parent = target.parent
    if not parent.exists():
        return
    olds = sorted(parent.glob(f"{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not target.exists() and olds:
        os.replace(olds.pop(), target)
        log.warning("Restored the previous index at %s after an interrupted rebuild.", target)
    # Temp folders younger than an hour may be another process's build in progress.
    stale = [p for p in parent.glob(f"{target.name}.tmp-*") if time.time() - p.stat().st_mtime > 3600]
    for p in olds + stale:
        shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------- loading

def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise BadIndexError(f"No index at {folder} (no {MANIFEST}).")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadIndexError(f"The index manifest {path} is unreadable ({err}).") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("checksums"), dict) or not isinstance(manifest.get("settings"), dict):
        raise BadIndexError(f"The index manifest {path} is damaged (fields missing).")
    return manifest


def load(folder: str | Path, verify: bool = True) -> Index:
    """Load the index; ``BadIndexError`` says what is wrong when a file is missing or damaged."""
    import faiss

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BadIndexError(f"The index at {folder} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}.")
    if verify:
        for rel, digest in manifest.get("checksums", {}).items():
            p = folder / rel
            if not p.exists():
                raise BadIndexError(f"The index at {folder} is missing {rel}.")
            if file_digest(p, sampled=digest.startswith(SAMPLED)) != digest:
                raise BadIndexError(f"The index file {folder / rel} is damaged (checksum mismatch).")
    ivf = None
    try:
        s = manifest["settings"]
        settings = IndexSettings.from_dict(s)
        docs = []
        with open(folder / "documents.jsonl", encoding="utf-8") as f:
            for line in f:
                docs.append(document_from_record(json.loads(line)))
        sentences = np.load(folder / "sentences.npy", allow_pickle=False).astype(np.int32).reshape(-1, 5)
        if manifest.get("layout") == "large":
            rows = np.load(folder / "chunks.npy", allow_pickle=False).reshape(-1, 4)
            chunks: Sequence[Chunk] = ChunkTable(docs, rows[:, 0], rows[:, 1], rows[:, 2])
            groups = rows[:, 3].astype(np.int32)
            terms: Sequence[list[str]] = TermsTable(folder / "terms.txt", np.load(folder / "terms.npy", allow_pickle=False))
            chunk_vectors = open_vectors(folder / "chunks.f16.npy")
            sentence_vectors = open_vectors(folder / "sentences.f16.npy")
            ivf = read_ivf(folder / "chunks.ivf")
        else:
            chunks, groups, terms = _read_chunks(folder / "chunks.jsonl")
            chunk_vectors = _vectors(faiss.read_index(str(folder / "chunks.faiss")))
            sentence_vectors = _vectors(faiss.read_index(str(folder / "sentences.faiss")))
        lexical = Lexical.load(folder / "bm25")
    except Exception as err:  # any parse failure means the same thing to the user
        raise BadIndexError(f"The index at {folder} cannot be read ({type(err).__name__}: {err}).") from err
    if (len(chunk_vectors) != len(chunks) or len(sentence_vectors) != len(sentences) or lexical.num_docs != len(chunks)
            or len(terms) != len(chunks) or (ivf is not None and ivf.ntotal != len(chunks))
            or set(manifest.get("corpus_files", {})) != {d.source for d in docs}):
        raise BadIndexError(f"The index at {folder} is inconsistent (its files disagree on the number of passages).")
    return Index(
        settings=settings, docs=docs, chunks=chunks, groups=groups,
        chunk_vectors=chunk_vectors, sentences=sentences, sentence_vectors=sentence_vectors,
        chunk_sentences=chunk_sentences(sentences, len(chunks)), lexical=lexical, manifest=manifest,
        terms=terms, ivf=ivf,
    )


def _read_chunks(path: Path) -> tuple[list[Chunk], np.ndarray, list[list[str]]]:
    chunks, groups, terms = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            chunks.append(Chunk(source=r["source"], title=r["title"], text=r["text"], start=r["start"], end=r["end"]))
            groups.append(r["group"])
            terms.append(r["terms"].split())
    return chunks, np.asarray(groups, dtype=np.int32), terms


def _vectors(flat) -> np.ndarray:
    if flat.ntotal == 0:
        return np.zeros((0, flat.d), dtype=np.float32)
    return np.ascontiguousarray(flat.reconstruct_n(0, flat.ntotal), dtype=np.float32)


def staleness(manifest: dict, settings: IndexSettings, hashes: dict[str, str]) -> str | None:
    """Why an index no longer matches the corpus and settings, or None when it does."""
    reason = settings_changed(manifest, settings)
    if reason:
        return reason
    added, removed, changed = changes(manifest, hashes)
    parts = []
    for label, names in (("new", added), ("removed", removed), ("changed", changed)):
        if names:
            parts.append(f"{len(names)} {label} file{'s' if len(names) > 1 else ''} ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})")
    return "the corpus has " + "; ".join(parts) if parts else None


def settings_changed(manifest: dict, settings: IndexSettings) -> str | None:
    """Why the index must be rebuilt from scratch (other model or settings), or None."""
    built = manifest.get("settings", {})
    if built.get("model") != settings.model:
        return f"it was built with model {built.get('model')!r}, not {settings.model!r}"
    if built != settings.to_dict():
        changed = sorted(k for k in set(built) | set(settings.to_dict()) if built.get(k) != settings.to_dict().get(k))
        return f"it was built with other settings ({', '.join(changed)})"
    return None


def only_tokenizer_changed(manifest: dict, settings: IndexSettings) -> bool:
    """The index differs from ``settings`` only by the tokenizer's version: its vectors still hold."""
    built, wanted = dict(manifest.get("settings", {})), settings.to_dict()
    return built.get("tokenizer") != wanted["tokenizer"] and {**built, "tokenizer": wanted["tokenizer"]} == wanted


def retokenized(index: Index, settings: IndexSettings) -> Index:
    """``index`` with its BM25 terms remade by this version's tokenizer, its vectors kept: an upgrade
    that changed only ``tokenize`` costs seconds, not a re-embedding of the whole collection."""
    terms = [tokenize(lexical_text(c, settings.title_in_embedding)) for c in index.chunks]
    return replace(index, settings=settings, terms=terms, lexical=Lexical.from_tokens(terms),
                   manifest={**index.manifest, "settings": settings.to_dict()})


def changes(manifest: dict, hashes: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Files added, removed and changed since the index was built (skipped files count as indexed)."""
    old = dict(manifest.get("corpus_files", {}))
    old.update(manifest.get("skipped_files", {}))
    added = sorted(set(hashes) - set(old))
    removed = sorted(set(old) - set(hashes))
    changed = sorted(k for k in set(old) & set(hashes) if old[k] != hashes[k])
    return added, removed, changed


def build_from_folder(corpus: str | Path, settings: IndexSettings, encode: Callable[..., np.ndarray],
                      hashes: dict[str, str] | None = None) -> Index:
    """``hashes``: the corpus's file hashes when the caller has just computed them (saves a second read)."""
    hashes = hashes if hashes is not None else file_hashes(Path(corpus))
    docs, skipped = load_documents(corpus)
    index = build(docs, settings, encode, skipped=skipped, hashes=hashes)
    note_skipped(index, hashes)
    return index


def refresh(index: Index, corpus: str | Path, encode: Callable[..., np.ndarray], hashes: dict[str, str],
            others: list[Path] | None = None) -> Index:
    """Bring ``index`` up to date with the folder: read and embed only new or changed files.

    ``hashes`` and ``others`` are what ``file_hashes`` just found (the folder is not walked again).
    """
    added, removed, changed = changes(index.manifest, hashes)
    if others is None:
        others = []
        corpus_files(Path(corpus), others)
    docs, warnings = load_documents(corpus, only=set(added) | set(changed))
    unchanged_skips = [w for s, w in index.manifest.get("skipped_lines", {}).items()
                       if s in hashes and s not in added and s not in changed]
    line = unsupported_warning(others)  # ``load_documents(only=…)`` walks no folder, so it never adds this one
    skipped = unchanged_skips + warnings + ([line] if line else [])
    updated = update(index, docs, set(removed) | set(changed), encode, hashes, skipped)
    if not updated.docs:
        raise CorpusError(f"No readable documents in {corpus} any more: every file was skipped (see the warnings above).")
    note_skipped(updated, hashes)
    return updated


def note_skipped(index: Index, hashes: dict[str, str]) -> None:
    """Remember which files were skipped (and why) under their hashes, so an unchanged unreadable
    file is not read again on every start, and its warning is still reported. Lines about files
    that are now indexed, or gone, are dropped."""
    indexed = {d.source for d in index.docs}
    kept, lines = [], {}
    for w in index.manifest.get("skipped", []):
        source = w[len("Skipped "):w.find(": it ")] if w.startswith("Skipped ") and ": it " in w else None
        if source is None:
            kept.append(w)  # a summary line (files of unsupported types)
        elif source in hashes and source not in indexed:
            kept.append(w)
            lines[source] = w
    index.manifest["skipped"] = kept
    index.manifest["skipped_files"] = {s: hashes[s] for s in lines}
    index.manifest["skipped_lines"] = lines
