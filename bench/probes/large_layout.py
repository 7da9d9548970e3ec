"""The large index layout (IVF search, no search over every sentence) against the flat one, on the same vectors.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/probes/large_layout.py ../shared/benchmarks

SQuAD v2 dev and MS MARCO-5k are indexed as `qa eval` indexes them (cached), then saved again in the large
layout (`QA_ANN_FROM=1`, as a collection past 50,000 passages would be) and both are scored through the bot.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # qa, and the maintained benchmarks' helpers
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.evaluate import benchmarks as b  # noqa: E402
from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store import IndexSettings  # noqa: E402


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "benchmarks"
    emb = Embedder()
    for kind in ("squad", "msmarco"):
        data = b.load_squad(root / "squad-v2-dev" / "dev-v2.0.json") if kind == "squad" else b.load_beir(root / "msmarco-5k")
        flat = b.open_or_build(data.documents, IndexSettings(model=emb.name), emb.encode, kind)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["QA_ANN_FROM"] = "1"
            index_io.save(b.open_or_build(data.documents, IndexSettings(model=emb.name), emb.encode, kind), Path(tmp) / "ix")
            os.environ.pop("QA_ANN_FROM")
            large = index_io.load(Path(tmp) / "ix")
            for label, ix in (("flat", flat), ("large", large)):
                bot = Bot(ix, emb)
                bot.prepare_words()  # every query, the first too, sees the collection's words
                ranker = b.BotRanker(bot)
                scores = b.squad_scores(ranker, data) if kind == "squad" else b.beir_scores(ranker, data)
                print(kind, label, {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
