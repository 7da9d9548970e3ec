"""What the per-collection calibration chooses, what it costs, and what it does to real questions.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/calibration.py ../shared/benchmarks [--queries 200]

For each collection (MS MARCO-5k, SQuAD v2 dev's paragraphs, the shipped corpus, the mixed-format
set written by bench/make_mixed.py): the Inverse-Cloze calibration of ``qa.calibration`` — MRR@10 of
its pseudo-queries under every weighting tried, the weighting chosen, and its cost in seconds (and
per 1,000 documents). Then the real questions of each collection, answered through ``bot.ask`` with
the default weights and with the calibrated ones (nDCG@10 for the BEIR-style sets, hit@1 and
abstentions for the labeled ones).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.answer import calibration  # noqa: E402
from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from robustness import AskRanker, squad_as_beir  # noqa: E402
from labeled import write_mixed  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/ and squad-v2-dev/")
    p.add_argument("--queries", type=int, default=200, help="pseudo-queries per collection")
    p.add_argument("--limit", type=int, default=None, help="only the first N SQuAD questions")
    a = p.parse_args()
    e = Embedder()
    settings = IndexSettings(model=e.name)
    marco = b.load_beir(a.benchmarks / "msmarco-5k")
    squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
    mixed_dir = write_mixed()
    collections = [
        ("MS MARCO-5k", b.open_or_build(marco.documents, settings, e.encode, "msmarco"), marco, None),
        ("SQuAD v2 dev paragraphs", b.open_or_build(squad.documents, settings, e.encode, "squad"), squad_as_beir(squad, a.limit), None),
        ("shipped corpus", index_io.load(ROOT / "index"), None, ["questions.jsonl", "heldout.jsonl", "heldout2.jsonl"]),
        ("mixed formats", index_io.build_from_folder(mixed_dir, settings, e.encode), None, ["mixed.jsonl"]),
    ]
    labels = ["/".join(f"{x:g}" for x in w) for w in calibration.GRID]
    print("#### Calibration: pseudo-query MRR@10 per weighting (passage/sentence/lexical), choice and cost\n")
    print("| collection | documents | passages | " + " | ".join(labels) + " | chosen | seconds | s / 1,000 docs |")
    print("|---" * (len(labels) + 6) + "|")
    chosen = {}
    for name, ix, _, _ in collections:
        c = calibration.calibrate(ix, e.encode, queries=a.queries)
        chosen[name] = c
        cells = [f"{c.mrr[x]:.3f}" if x in c.mrr else "—" for x in labels]
        per = c.seconds / max(1, len(ix.docs)) * 1000
        print(f"| {name} | {len(ix.docs):,} | {len(ix.chunks):,} | " + " | ".join(cells) +
              f" | {'/'.join(f'{x:g}' for x in c.weights)} | {c.seconds:.1f} | {per:.2f} |", flush=True)
    print("\nReasons: " + "; ".join(f"{n}: {c.reason}" for n, c in chosen.items()))

    print("\n#### Real questions through `bot.ask`: default weights → calibrated\n")
    print("| collection | measure | defaults | calibrated |\n|---|---|---|---|")
    for name, ix, data, labeled in collections:
        bots = [Bot(ix, e, fusion=calibration.default("").fusion()), Bot(ix, e, fusion=chosen[name].fusion())]
        for bot in bots:
            bot.prepare_words()  # every query, the first too, sees the collection's words
        if data is not None:
            scores = [b.beir_scores(AskRanker(bot), data) for bot in bots]
            print(f"| {name} | nDCG@10 / leaderboard | {scores[0]['nDCG@10']:.3f} / {scores[0]['nDCG@10 (leaderboard)']:.3f} | "
                  f"{scores[1]['nDCG@10']:.3f} / {scores[1]['nDCG@10 (leaderboard)']:.3f} |", flush=True)
        for path in labeled or []:
            items = load_questions(ROOT / "tests" / "data" / path)
            r = [evaluate_labeled(bot, items) for bot in bots]
            cell = [f"{x.metrics()['hit@1']:.3f}, abstained {x.false_abstentions}/{x.answerable} + {x.abstained}/{x.unanswerable}" for x in r]
            print(f"| {name}: {path} | hit@1, false + true abstentions | {cell[0]} | {cell[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
