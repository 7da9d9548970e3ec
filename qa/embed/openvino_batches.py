"""Passages and sentences through OpenVINO, when it is installed (``pip install "qa[openvino]"``).

An index build embeds every passage and every sentence, and that is nearly all of its time. On a CPU
that computes bfloat16 natively (AVX512-BF16 or AMX), OpenVINO runs the bundled model on batches of
64 of 1,000 MS MARCO passages in 0.43 of torch's float32 time (torch's own bfloat16 takes 0.58), with
vectors at cosine 0.99997 or more to float32's; elsewhere it runs in float32, at 0.79. A whole build:
``bench/indexing.py``. Questions stay on ONNX Runtime (``onnx_queries``).

It reads the ONNX file ``onnx_queries`` exports and caches, and is used only for mean-pooled models,
only when it reproduces torch's vectors on probe texts, and never with ``QA_OPENVINO=0``; any failure
leaves the build on torch.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Sequence

import numpy as np

from qa.embed.onnx_queries import PROBES, env_switch, exported

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_MIN_COSINE = 0.999  # to torch's vector of each probe text: bfloat16 gives 0.9999 and more


def enabled() -> bool:
    return env_switch("QA_OPENVINO") is not False


def available() -> bool:
    """Whether a build would try OpenVINO: installed and not turned off."""
    import importlib.util

    return enabled() and importlib.util.find_spec("openvino") is not None


class OpenVinoBatches:
    """Token vectors for batches of texts, as the model's transformer gives them to its mean pooling."""

    def __init__(self, compiled, tokenizer, inputs: list[str], max_length: int) -> None:
        self._request = compiled.create_infer_request()
        self._tokenizer, self._inputs, self._max_length = tokenizer, inputs, max_length

    @classmethod
    def of(cls, model: "SentenceTransformer", location: str, lock: threading.Lock, bf16: bool) -> "OpenVinoBatches | None":
        """The model compiled by OpenVINO (bfloat16 when ``bf16``), or None when OpenVINO is not installed,
        is turned off, or does not give torch's vectors. ``lock`` guards the model while exporting and probing."""
        if not enabled():
            return None
        try:
            import openvino as ov
        except ImportError:
            return None
        try:
            path = exported(model, location, lock)
            core = ov.Core()
            # bfloat16 only where this CPU computes it (QA_BF16=1 may ask for it anywhere: torch emulates it,
            # OpenVINO then stays in float32 rather than fail or crawl).
            native = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "bf16" if bf16 and native else "f32",
                                                             "PERFORMANCE_HINT": "LATENCY"})
            batches = cls(compiled, model.tokenizer, [i.get_any_name() for i in compiled.inputs],
                          int(model.max_seq_length or 512))
            with lock:
                expected = model.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
                got = batches.mean_pooled(PROBES)
            worst = float((expected * got).sum(1).min())
            if worst < _MIN_COSINE:
                log.info("Passages stay on torch: OpenVINO's vectors are at cosine %.4f to torch's", worst)
                return None
            return batches
        except Exception as err:  # noqa: BLE001 - torch still builds the index, only slower
            log.info("Passages stay on torch: OpenVINO cannot be used (%s)", str(err).splitlines()[0] if str(err) else type(err).__name__)
            return None

    def tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The token vectors of a batch (texts × tokens × dimension), its attention mask and which tokens
        are the tokenizer's own ([CLS], [SEP]). The tokenizer is not re-entrant: callers hold the model's lock."""
        enc = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_length,
                              return_special_tokens_mask=True, return_tensors="np")
        hidden = self._request.infer({name: enc[name].astype(np.int64) for name in self._inputs})[0]
        return np.asarray(hidden, dtype=np.float32), enc["attention_mask"].astype(np.float32), enc["special_tokens_mask"]

    def mean_pooled(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors, as sentence-transformers' mean pooling and normalisation make them."""
        hidden, mask, _ = self.tokens(texts)
        vectors = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
