"""Whether an index still matches its folder: file hashes, what changed, which files were skipped."""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

from qa.ingest.documents import corpus_files
from qa.store.record import Index, IndexSettings
from qa.types import Document

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



def changes(manifest: dict, hashes: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Files added, removed and changed since the index was built (skipped files count as indexed)."""
    old = dict(manifest.get("corpus_files", {}))
    old.update(manifest.get("skipped_files", {}))
    added = sorted(set(hashes) - set(old))
    removed = sorted(set(old) - set(hashes))
    changed = sorted(k for k in set(old) & set(hashes) if old[k] != hashes[k])
    return added, removed, changed


def note_skipped(index: Index, hashes: dict[str, str]) -> None:
    """Remember which files were skipped (and why) under their hashes, so an unchanged unreadable
    file is not read again on every start, and its warning is still reported. Lines about files
    that are now indexed, or gone, are dropped."""
    indexed = {d.source for d in index.live_docs}
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


def keep_passage_vectors(settings: IndexSettings, manifest: dict | None, chosen: str | None) -> IndexSettings:
    """Unless the caller chose, an index keeps the passage vectors it was built with (``qa index
    --passage-vectors summed`` is not undone by the next ``qa ask``)."""
    built = (manifest or {}).get("settings", {}).get("passage_vectors", "encoded")
    return settings if chosen or built == settings.passage_vectors else replace(settings, passage_vectors=built)
