"""Build and update an index from documents, one *segment* (a document's chunks, sentences and
vectors) at a time: a change re-embeds only the documents it touches."""
from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.errors import CorpusError
from qa.ingest.chunking import chunk_document, make_splitter, sentence_spans
from qa.ingest.documents import corpus_files, load_documents, unsupported_warning
from qa.store.duplicates import near_duplicate_groups
from qa.store.freshness import changes, file_hashes, note_skipped, text_hash
from qa.store.lexical import Lexical, tokenize
from qa.store.record import FORMAT_VERSION, Index, IndexSettings
from qa.store.records import SentenceLists
from qa.types import Chunk, Document

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
    if numbers is None:
        numbers = [i for i in range(len(index.docs)) if i not in index.dead]  # a changed large index's removed ones: gone
    for di in numbers:
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
    order = [d for d in range(len(index.docs)) if d not in index.dead]
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
    hashes = hashes or {}
    if index.layers is not None or (index.ivf is not None and index.manifest.get("layout") == "large"):  # beside its saved files
        from qa.store.layers import update_layered

        return update_layered(index, docs, remove, encode, hashes, skipped)
    t0 = time.perf_counter()
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




def retokenized(index: Index, settings: IndexSettings) -> Index:
    """``index`` with its BM25 terms remade by this version's tokenizer, its vectors kept: an upgrade
    that changed only ``tokenize`` costs seconds, not a re-embedding of the whole collection."""
    if index.layers is not None:
        from qa.store.layers import compacted

        index = compacted(index)
    terms = [tokenize(lexical_text(c, settings.title_in_embedding)) for c in index.chunks]
    return replace(index, settings=settings, terms=terms, lexical=Lexical.from_tokens(terms),
                   manifest={**index.manifest, "settings": settings.to_dict()})



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
    if not updated.document_count:
        raise CorpusError(f"No readable documents in {corpus} any more: every file was skipped (see the warnings above).")
    note_skipped(updated, hashes)
    return updated

