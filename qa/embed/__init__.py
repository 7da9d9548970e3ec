"""Embed: text becomes vectors.

``embedder`` resolves the model (the bundled all-MiniLM-L6-v2 by default, any sentence-transformers name
otherwise) and encodes passages and questions with it: questions through ONNX Runtime once it is ready
(``onnx_queries``), the passages of an index build through OpenVINO when it is installed
(``openvino_batches``), in bfloat16 where the CPU computes it natively.
"""
from __future__ import annotations

from qa.embed.embedder import (
    DEFAULT_MODEL,
    Embedder,
    bf16_enabled,
    model_location,
    model_name,
)

__all__ = ["DEFAULT_MODEL", "Embedder", "bf16_enabled", "model_location", "model_name"]
