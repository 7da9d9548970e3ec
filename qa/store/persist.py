"""Save (atomically), recover and load the index folder.

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

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from qa.errors import BadIndexError, IndexChangedError, SaveError
from qa.store.freshness import SAMPLED, file_digest
from qa.store.lexical import Lexical
from qa.store.record import DELTA_FORMAT_VERSION, FORMAT_VERSION, MANIFEST, Index, IndexSettings
from qa.store.records import ChunkTable, TermsTable
from qa.store.segments import chunk_sentences
from qa.store.vectors import (
    ann_from,
    open_vectors,
    read_ivf,
    refill_ivf,
    save_vectors,
    train_ivf,
)
from qa.types import Chunk, Document, Heading

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- saving

def document_record(d: Document) -> dict:
    """A document as stored (a JSON object); ``document_from_record`` reads it back."""
    return {"source": d.source, "kind": d.kind, "title": d.title, "pages": list(d.pages),
            "headings": [[h.start, h.level, h.text] for h in d.headings], "text": d.text}


def document_from_record(r: dict) -> Document:
    return Document(source=r["source"], title=r["title"], text=r["text"], kind=r["kind"],
                    pages=tuple(r["pages"]), headings=tuple(Heading(*h) for h in r["headings"]))


def save(index: Index, folder: str | Path, merged_from: Index | None = None) -> Index:
    """Write to a temporary folder beside ``folder``, then swap it in.

    An interrupted save leaves the previous index in place (or, in the instant
    between the two renames, as ``<folder>.old-*``, which ``load`` restores).
    A large index's IVF, trained here when it has none, is kept on ``index``, so
    the bot that built it searches as the saved index will (save a copy to keep
    ``index`` as it was).

    A changed large index is saved as its small delta, however large its changes have grown:
    merging them (``compact``) re-assembles the whole index, minutes at a million passages, so it
    is left to a caller that can do it without keeping anyone waiting (``Bot`` in a background
    thread, ``qa index`` once the update is saved). It is merged here only when a delta cannot be
    written: another folder, or a base another process replaced.

    A change saved in the folder by another process since this one read it is never overwritten: the save of
    a delta, or of ``merged_from``'s merge (``compact``), is refused with ``IndexChangedError`` instead.
    """
    target = Path(folder).resolve()
    from qa.store.delta import changed_since, same_base, save_delta
    from qa.store.layers import compacted, folder_of

    with _locked(target):  # one save of a folder at a time: a delta never lands on a base another process replaced
        if merged_from is not None and folder_of(merged_from) == target and changed_since(merged_from, target):
            raise IndexChangedError(f"Another process saved changes in the index at {target} while they were being "
                                    "merged; nothing was lost. Run `qa index --compact` again to merge them all.")
        if index.layers is None:
            _save_whole(index, target)
            return index
        if folder_of(index) == target and same_base(index, target) and not layout_outdated(index):
            if changed_since(index, target):
                raise IndexChangedError(f"Another process saved changes in the index at {target} since this one read it; "
                                        "they were kept and these were not saved. Run the command again (or reload) "
                                        "to make them on top of the others.")
            save_delta(index, target)
            return index
        merged = compacted(index)  # saved elsewhere, or the base replaced meanwhile: merged
        _save_whole(merged, target)
        return merged


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` beside the index folder for the length of a save."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = open(target.parent / f".{target.name}.lock", "a+")
    except OSError as err:
        raise SaveError(f"Cannot write beside {target} ({err.strerror}): pass a writable folder with --index (or QA_INDEX).") from err
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_whole(index: Index, target: Path) -> None:
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
        index.folder = target
        if "layout" not in manifest and index.ivf is not None:  # saved flat now (it shrank, or QA_ANN_FROM rose)
            index.trained_ivf, index.ivf = index.ivf, None
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


def compact(index: Index, folder: str | Path) -> Index:
    """A changed large index's delta and tombstones merged into one index, saved at ``folder`` and
    returned (``qa index --compact``). The previous index stays whole until the merged one is swapped
    in, as with any save, and ``index`` can still be searched meanwhile."""
    from qa.store.layers import compacted

    return save(compacted(index), folder, merged_from=index)  # the slow part outside the folder's lock


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
    return (index.manifest.get("layout") == "large") != (index.passages >= ann_from())


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
    if (target / MANIFEST).exists():
        from qa.store.delta import leftovers

        try:
            stale += leftovers(target, json.loads((target / MANIFEST).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass  # a damaged manifest: ``load`` says so
    for p in olds + stale:
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


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
    if manifest.get("format_version") not in (FORMAT_VERSION, DELTA_FORMAT_VERSION):
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
            or set(manifest.get("delta", manifest).get("base_files", manifest.get("corpus_files", {}))) != {d.source for d in docs}):
        raise BadIndexError(f"The index at {folder} is inconsistent (its files disagree on the number of passages).")
    delta = manifest.get("delta")
    index = Index(
        settings=settings, docs=docs, chunks=chunks, groups=groups,
        chunk_vectors=chunk_vectors, sentences=sentences, sentence_vectors=sentence_vectors,
        chunk_sentences=chunk_sentences(sentences, len(chunks)), lexical=lexical,
        manifest=manifest if delta is None else _base_manifest(manifest), terms=terms, ivf=ivf, folder=folder.resolve(),
    )
    if delta is None:
        return index
    from qa.store.delta import read_delta

    try:
        return read_delta(index, folder.resolve(), manifest)
    except Exception as err:
        raise BadIndexError(f"The changes saved beside the index at {folder} cannot be read ({type(err).__name__}: {err}).") from err


def _base_manifest(manifest: dict) -> dict:
    """The manifest of the saved base alone (a changed large index's names its delta too)."""
    from qa.store.delta import base_checksums

    base = {k: v for k, v in manifest.items() if k != "delta"}
    return {**base, "corpus_files": manifest["delta"]["base_files"], "checksums": base_checksums(manifest)}


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

