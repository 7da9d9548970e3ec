"""Questions through ONNX Runtime: the same vectors as torch, in a third of the time.

A question is one short text, and torch spends most of its 12–15 ms on calling one small operator
after another; ONNX Runtime runs the same graph in about 5 ms here (2 cores), with vectors that
differ from torch's by under 1e-6. Passages are still embedded by torch: in batches of 64 the two
are equally fast (``bench/onnx_probe.py``).

The model is exported once (about 2 s) into a cache folder (``QA_CACHE_DIR``, else
``~/.cache/qa``), named by a digest of the model's files and the library versions, and reused by
every later start. It is used only when it reproduces torch's vectors on probe texts; otherwise, or
without ``onnxruntime`` and ``onnx``, or with ``QA_ONNX=0``, questions stay on torch.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

PROBES = ["What is the capital of France?",
           "A longer probe sentence, so that a batch of two is padded: the mask must keep the padding out of the mean."]
_TOLERANCE = 1e-4  # largest difference from torch's vector, per dimension, to use the exported model
_UNUSED_FOR = 30 * 86400  # seconds after which an export nobody used is removed from the cache


class _Unusable(Exception):
    """The export was made but does not serve: ONNX Runtime cannot read it, or its vectors are not torch's."""


def env_switch(name: str) -> bool | None:
    """An on/off environment variable (``QA_ONNX``, ``QA_OPENVINO``, ``QA_BF16``): None when unset or empty,
    False for 0, false, no or off, True for anything else."""
    value = os.environ.get(name, "").strip().lower()
    return None if not value else value not in {"0", "false", "no", "off"}


def enabled() -> bool:
    return env_switch("QA_ONNX") is not False


def cache_dir() -> Path:
    configured = os.environ.get("QA_CACHE_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "qa"


class OnnxQueries:
    """Encodes texts exactly as a mean-pooled, normalised sentence-transformers model does."""

    def __init__(self, session, tokenizer, inputs: list[str], max_length: int) -> None:
        self._session, self._tokenizer, self._inputs, self._max_length = session, tokenizer, inputs, max_length

    @classmethod
    def of(cls, model: "SentenceTransformer", location: str, lock: threading.Lock | None = None) -> "OnnxQueries | None":
        """The exported ``model`` (from the cache when there), or None when it cannot be used.

        ``lock`` guards the model (its tokenizer is not re-entrant): held while exporting and probing,
        not while ONNX Runtime reads the file, so a start with the export cached never holds questions
        up. A model whose export cannot be used leaves a marker in the cache, so later starts do not try
        again."""
        if not enabled():
            return None
        try:
            import onnxruntime as ort
            import torch
        except ImportError:
            return None
        lock = lock or threading.Lock()
        path = marker = None
        try:
            path, marker = _paths(model, location)
            if marker.exists():
                return None
            _tidy(path.parent, keep=path)
            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, torch.get_num_threads())
            # Its worker threads would otherwise spin after each question, taking a core from the search
            # that follows (10k passages: the flat sentence search and the encoder both twice as slow).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            fresh = not path.exists()
            if fresh:
                _export(model, path, lock)
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as err:  # noqa: BLE001 - a damaged file in the cache: export again, once
                if fresh:
                    raise _Unusable(f"ONNX Runtime cannot read the export ({err})") from err
                _export(model, path, lock)
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            os.utime(path)  # last used now: ``_tidy`` removes exports unused for a month
            encoder = cls(session, model.tokenizer, [i.name for i in session.get_inputs()], int(model.max_seq_length or 512))
            with lock:
                expected = model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                difference = max(float(np.abs(encoder.encode(PROBES) - expected).max()),
                                 float(np.abs(encoder.encode(PROBES[:1]) - expected[:1]).max()))
            if difference > _TOLERANCE:
                raise _Unusable(f"its vectors differ from torch's by {difference:.2g}")
            return encoder
        except Exception as err:  # noqa: BLE001 - any failure leaves questions on torch, which works
            log.info("Questions stay on torch: the ONNX encoder cannot be used (%s)", str(err).splitlines()[0] if str(err) else type(err).__name__)
            # Marked only when the model itself is at fault; a full disk or a missing package may be fixed.
            if marker is not None and isinstance(err, _Unusable):
                try:
                    marker.write_text(f"{type(err).__name__}: {err}"[:2000])
                    if path is not None:
                        path.unlink(missing_ok=True)
                except OSError:
                    pass
            return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors. The tokenizer is not re-entrant: callers hold the model's lock.

        Texts of like length run together: padded to the longest of a batch, a follow-up (its question
        and the earlier answer, ~120 tokens) would make every ten-token question beside it cost as much.
        """
        encoded = self._tokenizer(list(texts), truncation=True, max_length=self._max_length)
        lengths = [len(row) for row in encoded["input_ids"]]
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for group in _like_lengths(lengths):
            shape = (len(group), max(lengths[i] for i in group))
            feed = {name: np.full(shape, (self._tokenizer.pad_token_id or 0) if name == "input_ids" else 0, dtype=np.int64)
                    for name in self._inputs}
            for r, i in enumerate(group):
                for name, rows in feed.items():
                    rows[r, :lengths[i]] = encoded[name][i]
            hidden = self._session.run(None, feed)[0]
            mask = (np.arange(shape[1]) < np.array([lengths[i] for i in group])[:, None]).astype(np.float32)[..., None]
            vectors = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            if not out.shape[1]:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[group] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out


def exported(model: "SentenceTransformer", location: str, lock: threading.Lock) -> Path:
    """The model's ONNX export in the cache, made now if it is not there yet (under ``lock``)."""
    path, _ = _paths(model, location)
    if not path.exists():
        _export(model, path, lock)
    os.utime(path)
    return path


def _paths(model: "SentenceTransformer", location: str) -> tuple[Path, Path]:
    """Where the export of ``model`` is cached, and the marker saying it cannot be used."""
    folder = _cache_folder()
    digest = _digest(model, location)
    return folder / f"queries-{digest}.onnx", folder / f"queries-{digest}.unusable"


def _like_lengths(lengths: list[int], waste: float = 0.25) -> list[list[int]]:
    """Indices grouped by length, shortest first, so that padding each group to its longest adds at most
    ``waste`` of its real tokens (a group of one pads nothing)."""
    groups: list[list[int]] = []
    total = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and lengths[i] * (len(groups[-1]) + 1) <= (1 + waste) * (total + lengths[i]):
            groups[-1].append(i)
            total += lengths[i]
        else:
            groups.append([i])
            total = lengths[i]
    return groups


def _cache_folder() -> Path:
    """``cache_dir()`` when writable, else a folder of this user's in the system's temporary folder."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=folder, delete=True).close()
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"qa-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _tidy(folder: Path, keep: Path) -> None:
    """Remove what earlier runs left: an export cut short an hour ago or more, and exports (90 MB each,
    one per model and library version) unused for a month."""
    now = time.time()
    for p in list(folder.glob(".export-*.onnx")) + list(folder.glob("queries-*.onnx")):
        try:
            age = now - p.stat().st_mtime
            if p != keep and age > (3600 if p.name.startswith(".export-") else _UNUSED_FOR):
                p.unlink()
        except OSError:
            pass


def _export(model: "SentenceTransformer", path: Path, lock: threading.Lock) -> None:
    """The model's transformer as an ONNX file at ``path``, written to a temporary file first.

    Under ``lock``, the whole export: while it traces, torch's exporter sets process-wide state that
    changed the vector of a question torch encoded in another thread at the same moment (seen here).
    Only the first start on a machine exports (1.5 s); later ones read the file."""
    import torch

    transformer = model[0].auto_model.eval()
    with lock:
        _export_locked(model, transformer, path, torch)


def _export_locked(model: "SentenceTransformer", transformer, path: Path, torch) -> None:
    sample = model.tokenizer(["hello world"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *args):
            return self.inner(**dict(zip(names, args))).last_hidden_state

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(Hidden(), tuple(sample[n] for n in names), tmp, input_names=names, output_names=["hidden"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["hidden"]},
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def quiet_export_warnings() -> None:
    """The exporter warns about tracing (shapes taken as constants, which the dynamic axes undo) and its
    own deprecation: noise for a user. Filtered by category and module, from the thread that starts the
    export (``warnings.catch_warnings`` in the export's thread would affect every thread meanwhile)."""
    import warnings

    try:
        from torch.jit import TracerWarning

        warnings.filterwarnings("ignore", category=TracerWarning)
    except ImportError:
        pass
    warnings.filterwarnings("ignore", module=r"torch\.onnx")
    warnings.filterwarnings("ignore", module=r"qa\.onnx_queries")


def _digest(model: "SentenceTransformer", location: str) -> str:
    """Names the export by what it was made from: the model's files (size and time) and the library versions."""
    import onnxruntime
    import torch
    import transformers

    h = hashlib.sha256(f"{location}|{torch.__version__}|{transformers.__version__}|{onnxruntime.__version__}".encode())
    folder = Path(location)
    if not folder.is_dir():  # a hub name: the snapshot folder it was read from names the revision
        folder = Path(str(getattr(model[0].auto_model.config, "_name_or_path", "") or location))
    if folder.is_dir():
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix in {".safetensors", ".bin", ".json", ".txt"}:
                st = f.stat()
                h.update(f"{f.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]
