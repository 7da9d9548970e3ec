"""Questions through ONNX Runtime: the real bundled model exported, the same vectors as torch."""
from __future__ import annotations

import numpy as np

from qa.embedding import model_location
from qa.onnx_queries import OnnxQueries, cache_dir

QUESTIONS = ["Which country installed the most industrial robots?", "What did Barclays report?",
             "How much electricity will data centres in the United States use by 2030, and who says so?", "AI"]


def test_the_shared_embedder_answers_questions_through_onnx_with_torchs_vectors(embedder):
    assert embedder.wait_for_export()
    assert embedder._onnx is not None
    fast = embedder.encode_queries(QUESTIONS)
    torch_vectors = embedder.encode(QUESTIONS)
    assert fast.shape == torch_vectors.shape == (len(QUESTIONS), embedder.dimension)
    assert float(np.abs(fast - torch_vectors).max()) < 1e-4
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_the_export_is_cached_and_a_damaged_copy_is_made_again(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    location = model_location(embedder.name)
    with embedder._lock:
        first = OnnxQueries.of(embedder._model, location)
    files = list((tmp_path / "cache").glob("queries-*.onnx"))
    assert first is not None and len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    with embedder._lock:
        again = OnnxQueries.of(embedder._model, location)
    assert again is not None and files[0].stat().st_mtime_ns == stamp  # read from the cache, not exported again
    files[0].write_bytes(b"not an ONNX model")
    with embedder._lock:
        repaired = OnnxQueries.of(embedder._model, location)
    assert repaired is not None
    assert float(np.abs(repaired.encode(QUESTIONS) - embedder.encode(QUESTIONS)).max()) < 1e-4
    assert not list((tmp_path / "cache").glob(".export-*"))  # no temporary file left behind


def test_qa_onnx_0_keeps_questions_on_torch(embedder, monkeypatch):
    monkeypatch.setenv("QA_ONNX", "0")
    with embedder._lock:
        assert OnnxQueries.of(embedder._model, model_location(embedder.name)) is None
