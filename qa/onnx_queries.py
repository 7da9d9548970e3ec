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
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_PROBES = ["What is the capital of France?",
           "A longer probe sentence, so that a batch of two is padded: the mask must keep the padding out of the mean."]
_TOLERANCE = 1e-4  # largest difference from torch's vector, per dimension, to use the exported model


def enabled() -> bool:
    return os.environ.get("QA_ONNX", "1").strip().lower() not in {"0", "false", "no", "off"}


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
    def of(cls, model: "SentenceTransformer", location: str) -> "OnnxQueries | None":
        """The exported ``model`` (from the cache when there), or None when it cannot be used."""
        if not enabled():
            return None
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        try:
            import torch

            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, torch.get_num_threads())
            # Its worker threads would otherwise spin after each question, taking a core from the search
            # that follows (10k passages: the flat sentence search and the encoder both twice as slow).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            path = _exported(model, location)
            try:
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception:  # noqa: BLE001 - a damaged file in the cache: export again, once
                path.unlink(missing_ok=True)
                session = ort.InferenceSession(str(_exported(model, location)), options, providers=["CPUExecutionProvider"])
            names = [i.name for i in session.get_inputs()]
            encoder = cls(session, model.tokenizer, names, int(model.max_seq_length or 512))
            expected = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            difference = float(np.abs(encoder.encode(_PROBES) - expected).max())
        except Exception as err:  # noqa: BLE001 - any failure leaves questions on torch, which works
            log.info("Questions stay on torch: the ONNX export failed (%s)", str(err).splitlines()[0] if str(err) else type(err).__name__)
            return None
        if difference > _TOLERANCE:
            log.info("Questions stay on torch: the ONNX model differs by %.2g", difference)
            return None
        return encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors. The tokenizer is not re-entrant: callers hold the model's lock."""
        batch = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_length, return_tensors="np")
        hidden = self._session.run(None, {n: np.asarray(batch[n], dtype=np.int64) for n in self._inputs})[0]
        mask = np.asarray(batch["attention_mask"], dtype=np.float32)[..., None]
        vectors = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return np.ascontiguousarray(vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def _exported(model: "SentenceTransformer", location: str) -> Path:
    """The model's transformer as an ONNX file in the cache, exported if not there yet (atomically)."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, delete=True)
        probe.close()
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"qa-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"queries-{_digest(model, location)}.onnx"
    if path.exists():
        return path
    import torch

    transformer = model[0].auto_model.eval()
    sample = model.tokenizer(["hello world"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *args):
            return self.inner(**dict(zip(names, args))).last_hidden_state

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        import warnings

        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(), tuple(sample[n] for n in names), tmp, input_names=names, output_names=["hidden"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["hidden"]},
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _digest(model: "SentenceTransformer", location: str) -> str:
    """Names the export by what it was made from: the model's files (size and time) and the library versions."""
    import onnxruntime
    import torch
    import transformers

    h = hashlib.sha256(f"{location}|{torch.__version__}|{transformers.__version__}|{onnxruntime.__version__}".encode())
    folder = Path(location)
    if folder.is_dir():
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix in {".safetensors", ".bin", ".json", ".txt"}:
                st = f.stat()
                h.update(f"{f.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]
