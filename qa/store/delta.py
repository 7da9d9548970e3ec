"""Save and read a changed large index's delta (``layers``) beside its saved base, atomically.

    delta-<n>/segments.jsonl    one added document per line: its record, hash, chunks, sentences, BM25 terms
    delta-<n>/chunks.f16.npy    their chunk vectors, float16
    delta-<n>/sentences.f16.npy their sentence vectors, float16

The manifest names the delta folder, the base documents it tombstones, and the base's own files.
A save writes a new ``delta-<n>`` and fsyncs it, then replaces ``manifest.json`` (the one commit
point), then deletes the delta it replaced: a ``kill -9`` at any step leaves the manifest naming a
complete delta, old or new. The base's files are never written, so a change costs what changed.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from qa.store.freshness import file_digest
from qa.store.layers import base_numbers, dead_sources, layered
from qa.errors import SaveError
from qa.store.record import DELTA_FORMAT_VERSION, MANIFEST, Index
from qa.store.segments import Segment
from qa.store.vectors import save_vectors
from qa.types import Chunk

DELTA = "delta-"


def base_checksums(manifest: dict) -> dict[str, str]:
    """The checksums of the saved base's own files (the manifest's, without its delta's)."""
    return {rel: d for rel, d in manifest.get("checksums", {}).items() if not rel.startswith(DELTA)}


def _on_disk(target: Path) -> dict | None:
    """The manifest saved in ``target``, or None when there is none that reads."""
    try:
        return json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def same_base(index: Index, target: Path) -> bool:
    """Whether ``target`` still holds the base ``index`` stands on (another process may have compacted it)."""
    on_disk = _on_disk(target)
    return on_disk is not None and base_checksums(on_disk) == base_checksums(index.layers.base.manifest)


def changed_since(index: Index, target: Path) -> bool:
    """Whether another process saved a change in ``target`` since ``index`` was read from it or saved there: the
    delta the folder names is not the one ``index`` last saw (a layered index carries it in its manifest)."""
    on_disk = _on_disk(target)
    if on_disk is None:
        return False  # nothing there to overwrite
    if index.layers is not None and base_checksums(on_disk) != base_checksums(index.layers.base.manifest):
        return True
    return on_disk.get("delta", {}).get("folder") != index.manifest.get("delta", {}).get("folder")


def save_delta(index: Index, target: Path) -> None:
    """Write ``index``'s delta and tombstones beside its base in ``target`` (see the module doc)."""
    from qa.store.persist import document_record

    lay = index.layers
    name = f"{DELTA}{time.time_ns()}"
    tmp = target / f"{name}.tmp"
    tmp.mkdir()
    committed = False
    try:
        with open(tmp / "segments.jsonl", "w", encoding="utf-8") as f:
            for s in lay.delta:
                f.write(json.dumps({"doc": document_record(s.doc), "sha": s.sha,
                                    "chunks": [[c.start, c.end] for c in s.chunks], "sentences": s.sentences.tolist(),
                                    "terms": [" ".join(t) for t in s.terms]}, ensure_ascii=False) + "\n")
        dim = lay.base.chunk_vectors.shape[1]
        for file, part in (("chunks.f16.npy", "chunk_vectors"), ("sentences.f16.npy", "sentence_vectors")):
            arrays = [getattr(s, part) for s in lay.delta if len(getattr(s, part))]
            save_vectors(tmp / file, np.concatenate(arrays) if arrays else np.zeros((0, dim), np.float32))
        for p in tmp.iterdir():
            _fsync(p)
        os.replace(tmp, target / name)
        previous = index.manifest.get("delta", {}).get("folder")
        manifest = {**index.manifest, "layout": "large", "format_version": DELTA_FORMAT_VERSION,
                    "delta": {"folder": name, "dead": dead_sources(index), "base_files": lay.base.hashes},
                    "checksums": {**base_checksums(lay.base.manifest),
                                  **{f"{name}/{p.name}": file_digest(p) for p in sorted((target / name).iterdir())}}}
        part = target / f"{MANIFEST}.{name}.tmp"
        with open(part, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, target / MANIFEST)  # the commit
        committed = True
        _fsync(target)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        (target / f"{MANIFEST}.{name}.tmp").unlink(missing_ok=True)
        if not committed:
            shutil.rmtree(target / name, ignore_errors=True)
        if isinstance(err, OSError):
            raise SaveError(f"Could not save the changes beside the index at {target} ({err.strerror or err}); the previous "
                            "index is intact. Free some disk space (or pass another folder with --index) and run again.") from err
        raise
    index.manifest = manifest
    if previous and previous != name:
        shutil.rmtree(target / previous, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_delta(base: Index, folder: Path, manifest: dict) -> Index:
    """``base`` (loaded from ``folder``) with the delta and tombstones ``manifest`` names."""
    from qa.store.persist import document_from_record
    from qa.store.vectors import open_vectors

    where = folder / manifest["delta"]["folder"]
    chunk_vectors = np.asarray(open_vectors(where / "chunks.f16.npy"), dtype=np.float32)
    sentence_vectors = np.asarray(open_vectors(where / "sentences.f16.npy"), dtype=np.float32)
    segments, ci, si = [], 0, 0
    with open(where / "segments.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            doc = document_from_record(r["doc"])
            chunks = [Chunk(source=doc.source, title=doc.title, text=doc.text[a:b], start=a, end=b) for a, b in r["chunks"]]
            rows = np.asarray(r["sentences"], dtype=np.int32).reshape(-1, 4)
            segments.append(Segment(doc=doc, sha=r["sha"], chunks=chunks, terms=[t.split() for t in r["terms"]], sentences=rows,
                                    chunk_vectors=chunk_vectors[ci:ci + len(chunks)],
                                    sentence_vectors=sentence_vectors[si:si + len(rows)]))
            ci, si = ci + len(chunks), si + len(rows)
    if ci != len(chunk_vectors) or si != len(sentence_vectors):
        raise ValueError(f"{where.name} holds {len(chunk_vectors)} chunk vectors for {ci} chunks")
    return layered(base, segments, base_numbers(base, manifest["delta"]["dead"]), manifest)


def leftovers(folder: Path, manifest: dict | None) -> list[Path]:
    """Delta folders and manifest drafts no manifest names (an interrupted save's), older than an hour
    (a younger one may be another process's save in progress)."""
    named = (manifest or {}).get("delta", {}).get("folder")
    found = [*folder.glob(f"{DELTA}*"), *folder.glob(f"{MANIFEST}.*.tmp")]
    return [p for p in found if p.name != named and time.time() - p.stat().st_mtime > 3600]
