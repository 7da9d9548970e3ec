"""Optional cross-encoder re-ranking of the fused candidates.

Off by default: no re-ranker is bundled and nothing may be downloaded here. Where the hub is
reachable (a Space, a laptop), name one — ``Bot.load(reranker=...)``, ``--reranker``,
``QA_RERANKER`` — e.g. ``cross-encoder/ms-marco-MiniLM-L6-v2``. It reads each of the top
candidates together with the question, which an embedding cannot, at the cost of one model
pass per candidate (see bench/README.md for what that costs).
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Sequence

import numpy as np

from qa.errors import NO_SENTENCE_TRANSFORMERS, ModelError, cannot_load

log = logging.getLogger(__name__)

_OFF = {"", "none", "off", "0", "false"}


def reranker_name(name: str | None = None) -> str | None:
    """The re-ranker the caller asked for: argument, then ``QA_RERANKER``; None when off."""
    chosen = (name if name is not None else os.environ.get("QA_RERANKER", "")).strip()
    return None if chosen.lower() in _OFF else chosen


class Reranker:
    """A sentence-transformers ``CrossEncoder``; ``scores`` is safe to call from several threads."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name = name
        self._lock = threading.Lock()
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as err:
            raise ModelError(NO_SENTENCE_TRANSFORMERS) from err
        log.info("Loading re-ranker %s", name)
        try:
            self._model = CrossEncoder(name, device=device)
        except Exception as err:  # the library raises many types for "not found"
            raise cannot_load("re-ranker", name, name, err,
                              "Use a sentence-transformers CrossEncoder name or path, or unset QA_RERANKER to run without one.") from err
        config = getattr(self._model.model, "config", None)
        architectures = getattr(config, "architectures", None) or []
        if not any(a.endswith("ForSequenceClassification") for a in architectures):
            # A bi-encoder loads as a cross-encoder with a random scoring head: it would shuffle the citations.
            raise ModelError(f"Cannot use {name!r} as a re-ranker: it is not a cross-encoder (no trained scoring head). "
                             "Name a CrossEncoder such as cross-encoder/ms-marco-MiniLM-L6-v2, or unset QA_RERANKER.")
        labels = getattr(config, "num_labels", 1)
        if labels != 1:
            raise ModelError(f"Cannot use {name!r} as a re-ranker: it gives {labels} scores per passage, not one relevance score.")

    def scores(self, query: str, passages: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One relevance score per passage (higher is better; the scale is the model's own)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:  # the fast tokenizer is not re-entrant
            out = self._model.predict([(query, p) for p in passages], batch_size=batch_size,
                                      show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32).reshape(len(passages))
