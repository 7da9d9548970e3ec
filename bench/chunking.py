"""Sweep chunk size and overlap on the labeled set: how the defaults were chosen.

    python bench/chunking.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.ingest.chunking import ChunkSettings  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import DEFAULT_QUESTIONS, evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402

GRID = [(300, 75), (400, 100), (500, 100), (600, 0), (600, 150), (800, 150), (800, 200), (1000, 200)]


def main() -> None:
    embedder = Embedder()
    items = load_questions(DEFAULT_QUESTIONS)
    print("| size / overlap | passages | hit@1 | hit@5 | MRR | highlight | abstain (unans.) | false abstain | follow-ups |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size, overlap in GRID:
        for title in (True, False):
            settings = IndexSettings(model=embedder.name, chunking=ChunkSettings(size, overlap), title_in_embedding=title)
            built = index_io.build_from_folder(ROOT / "corpus", settings, lambda x, **kw: embedder.encode(x))
            bot = Bot(built, embedder)
            m = evaluate_labeled(bot, items).metrics()
            label = f"{size} / {overlap}{'' if title else ', no title'}"
            print(f"| {label} | {len(built.chunks)} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['MRR']:.3f} | "
                  f"{m['highlight accuracy']:.3f} | {m['abstention rate (unanswerable)']:.3f} | "
                  f"{m['false abstention rate (answerable)']:.3f} | {m['follow-ups right']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
