"""Build, save (atomically), load and check the freshness of the persisted index.

On disk (one folder):
    manifest.json    what was indexed and how; a checksum of every other file
    chunks.jsonl     one chunk record per line (source, title, start, end, text, group)
    sentences.npy    int32 rows (document number, start, end, first chunk, last chunk)
    chunks.faiss     chunk vectors, inner product on normalised vectors
    sentences.faiss  sentence vectors, for highlighting and sentence-level evidence
    bm25/            the bm25s lexical index of the chunks
"""
from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .chunking import ChunkSettings, chunk_documents, sentence_spans
from .documents import corpus_files, load_documents
from .errors import BadIndexError
from .lexical import TOKENIZER_VERSION, Lexical
from .types import Chunk, Document

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Two chunks are near-duplicates when this share of their word 5-grams is shared
# (containment of the smaller). 0.6 catches re-published copies whose chunk
# boundaries differ, and not two passages that merely quote one sentence alike.
DUPLICATE_CONTAINMENT = 0.6


@dataclass(frozen=True)
class IndexSettings:
    """Everything that changes the index's content; stored in the manifest."""

    model: str
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    title_in_embedding: bool = True

    def to_dict(self) -> dict:
        return {"model": self.model, "chunking": asdict(self.chunking), "title_in_embedding": self.title_in_embedding,
                "tokenizer": TOKENIZER_VERSION}


@dataclass
class Index:
    """Everything retrieval needs, in memory."""

    settings: IndexSettings
    documents: list[str]  # sources, by document number
    chunks: list[Chunk]
    groups: np.ndarray  # near-duplicate group of each chunk (the lowest chunk id in the group)
    chunk_vectors: np.ndarray  # (n_chunks, dim) float32, normalised
    sentences: np.ndarray  # (n_sentences, 5) int32: doc, start, end, first chunk, last chunk
    sentence_vectors: np.ndarray
    chunk_sentences: list[np.ndarray]  # sentence ids inside each chunk
    lexical: Lexical
    manifest: dict

# ---------------------------------------------------------------- hashing

def file_hashes(corpus: Path) -> dict[str, str]:
    out = {}
    for path in corpus_files(corpus):
        out[path.relative_to(corpus).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------- building

def embed_text(chunk_title: str, text: str, with_title: bool) -> str:
    """What the model sees for a chunk: the title gives a passage its topic."""
    if with_title and chunk_title and not text.startswith(chunk_title):
        return f"{chunk_title}\n{text}"
    return text


def build(docs: list[Document], settings: IndexSettings, encode: Callable[..., np.ndarray], skipped: list[str] | None = None,
          hashes: dict[str, str] | None = None) -> Index:
    """Chunk, embed and index ``docs``. ``encode(texts, progress=, desc=)`` returns normalised vectors."""
    t0 = time.perf_counter()
    chunks = chunk_documents(docs, settings.chunking)
    doc_no = {d.source: i for i, d in enumerate(docs)}

    rows = []
    chunk_sentences: list[list[int]] = [[] for _ in chunks]
    by_doc: dict[int, list[int]] = {}
    for ci, c in enumerate(chunks):
        by_doc.setdefault(doc_no[c.source], []).append(ci)
    for di, d in enumerate(docs):
        cids = by_doc.get(di, [])  # in document order: starts and ends both ascend
        starts, ends = [chunks[ci].start for ci in cids], [chunks[ci].end for ci in cids]
        for s, e in sentence_spans(d.text):
            inside = cids[bisect.bisect_right(ends, s):bisect.bisect_left(starts, e)]
            if not inside:
                continue
            sid = len(rows)
            rows.append((di, s, e, inside[0], inside[-1]))
            for ci in inside:
                chunk_sentences[ci].append(sid)
    sentences = np.asarray(rows, dtype=np.int32).reshape(-1, 5)

    texts = [embed_text(c.title, c.text, settings.title_in_embedding) for c in chunks]
    sent_texts = [docs[r[0]].text[r[1]:r[2]] for r in rows]
    chunk_vectors = encode(texts, progress=True, desc="Embedding passages")
    sentence_vectors = encode(sent_texts, progress=True, desc="Embedding sentences")
    lexical = Lexical.build([f"{c.title}\n{c.text}" if settings.title_in_embedding else c.text for c in chunks])
    groups = near_duplicate_groups(chunks)

    manifest = {
        "format_version": FORMAT_VERSION,
        "settings": settings.to_dict(),
        "dimension": int(chunk_vectors.shape[1]) if len(chunks) else 0,
        "corpus_files": hashes or {},
        "skipped": skipped or [],
        "counts": {"documents": len(docs), "chunks": len(chunks), "sentences": len(rows)},
        "build_seconds": round(time.perf_counter() - t0, 3),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Index(
        settings=settings, documents=[d.source for d in docs], chunks=chunks, groups=groups,
        chunk_vectors=chunk_vectors, sentences=sentences, sentence_vectors=sentence_vectors,
        chunk_sentences=[np.asarray(s, dtype=np.int32) for s in chunk_sentences], lexical=lexical, manifest=manifest,
    )


def _shingles(text: str, n: int = 5) -> set[int]:
    words = text.lower().split()
    return {hash(tuple(words[i:i + n])) for i in range(max(1, len(words) - n + 1))}


def _overlap(a: Chunk, b: Chunk) -> bool:
    return a.source == b.source and a.start < b.end and b.start < a.end


def near_duplicate_groups(chunks: list[Chunk]) -> np.ndarray:
    """Group chunks that repeat each other: a document quoting another, shared boilerplate.

    Overlapping chunks of one document are not duplicates: their overlap is by design.
    """
    groups = np.arange(len(chunks), dtype=np.int32)
    sh = [_shingles(c.text) for c in chunks]
    postings: dict[int, list[int]] = {}
    for i, s in enumerate(sh):
        for g in s:
            postings.setdefault(g, []).append(i)
    for i, s in enumerate(sh):
        counts: dict[int, int] = {}
        for g in s:
            for j in postings[g]:
                if j < i and not _overlap(chunks[i], chunks[j]):
                    counts[j] = counts.get(j, 0) + 1
        for j, shared in counts.items():
            if shared / max(1, min(len(s), len(sh[j]))) >= DUPLICATE_CONTAINMENT:
                groups[i] = min(groups[i], groups[j])
    return groups


# ---------------------------------------------------------------- saving

def save(index: Index, folder: str | Path) -> None:
    """Write to a temporary folder beside ``folder``, then swap it in.

    An interrupted save leaves the previous index in place (or, in the instant
    between the two renames, as ``<folder>.old-*``, which ``load`` restores).
    """
    import faiss

    target = Path(folder).resolve()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MANIFEST).exists())):
        raise BadIndexError(f"{target} exists and is not a qa index; it will not be replaced. "
                            "Pass an empty or new folder with --index (or QA_INDEX).")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{target.name}.tmp-", dir=target.parent))
    except OSError as err:
        raise BadIndexError(f"Cannot write the index beside {target} ({err.strerror}): "
                            "pass a writable folder with --index (or QA_INDEX).") from err
    try:
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c, g in zip(index.chunks, index.groups):
                f.write(json.dumps({"source": c.source, "title": c.title, "start": c.start, "end": c.end,
                                    "text": c.text, "group": int(g)}, ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", index.sentences)
        for name, vecs in (("chunks.faiss", index.chunk_vectors), ("sentences.faiss", index.sentence_vectors)):
            flat = faiss.IndexFlatIP(vecs.shape[1] if vecs.size else index.manifest["dimension"] or 1)
            if len(vecs):
                flat.add(vecs)
            faiss.write_index(flat, str(tmp / name))
        index.lexical.save(tmp / "bm25")
        manifest = dict(index.manifest, documents=index.documents)
        manifest["checksums"] = {p.relative_to(tmp).as_posix(): _sha(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        index.manifest = manifest
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
            if _sha(p) != digest:
                raise BadIndexError(f"The index file {folder / rel} is damaged (checksum mismatch).")
    try:
        s = manifest["settings"]
        settings = IndexSettings(model=s["model"], chunking=ChunkSettings(**s["chunking"]), title_in_embedding=s["title_in_embedding"])
        chunks, groups = [], []
        with open(folder / "chunks.jsonl", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                chunks.append(Chunk(source=r["source"], title=r["title"], text=r["text"], start=r["start"], end=r["end"]))
                groups.append(r["group"])
        sentences = np.load(folder / "sentences.npy", allow_pickle=False).astype(np.int32).reshape(-1, 5)
        chunk_vectors = _vectors(faiss.read_index(str(folder / "chunks.faiss")))
        sentence_vectors = _vectors(faiss.read_index(str(folder / "sentences.faiss")))
        lexical = Lexical.load(folder / "bm25")
    except Exception as err:  # any parse failure means the same thing to the user
        raise BadIndexError(f"The index at {folder} cannot be read ({type(err).__name__}: {err}).") from err
    if len(chunk_vectors) != len(chunks) or len(sentence_vectors) != len(sentences) or lexical.num_docs != len(chunks):
        raise BadIndexError(f"The index at {folder} is inconsistent (its files disagree on the number of passages).")
    chunk_sentences: list[list[int]] = [[] for _ in chunks]
    for sid, (_, _, _, first, last) in enumerate(sentences):
        for ci in range(first, last + 1):
            chunk_sentences[ci].append(sid)
    return Index(
        settings=settings, documents=manifest.get("documents", []), chunks=chunks, groups=np.asarray(groups, dtype=np.int32),
        chunk_vectors=chunk_vectors, sentences=sentences, sentence_vectors=sentence_vectors,
        chunk_sentences=[np.asarray(s, dtype=np.int32) for s in chunk_sentences], lexical=lexical, manifest=manifest,
    )


def _vectors(flat) -> np.ndarray:
    if flat.ntotal == 0:
        return np.zeros((0, flat.d), dtype=np.float32)
    return np.ascontiguousarray(flat.reconstruct_n(0, flat.ntotal), dtype=np.float32)


def staleness(manifest: dict, settings: IndexSettings, hashes: dict[str, str]) -> str | None:
    """Why an index no longer matches the corpus and settings, or None when it does."""
    built = manifest.get("settings", {})
    if built.get("model") != settings.model:
        return f"it was built with model {built.get('model')!r}, not {settings.model!r}"
    if built != settings.to_dict():
        changed = sorted(k for k in set(built) | set(settings.to_dict()) if built.get(k) != settings.to_dict().get(k))
        return f"it was built with other settings ({', '.join(changed)})"
    old = manifest.get("corpus_files", {})
    added = sorted(set(hashes) - set(old))
    removed = sorted(set(old) - set(hashes))
    changed = sorted(k for k in set(old) & set(hashes) if old[k] != hashes[k])
    parts = []
    for label, names in (("new", added), ("removed", removed), ("changed", changed)):
        if names:
            parts.append(f"{len(names)} {label} file{'s' if len(names) > 1 else ''} ({', '.join(names[:3])}{', …' if len(names) > 3 else ''})")
    return "the corpus has " + "; ".join(parts) if parts else None


def build_from_folder(corpus: str | Path, settings: IndexSettings, encode: Callable[..., np.ndarray],
                      hashes: dict[str, str] | None = None) -> Index:
    """``hashes``: the corpus's file hashes when the caller has just computed them (saves a second read)."""
    docs, skipped = load_documents(corpus)
    return build(docs, settings, encode, skipped=skipped, hashes=hashes if hashes is not None else file_hashes(Path(corpus)))
