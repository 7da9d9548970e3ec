"""Fusion that travels (issue 25, item 6): the lexical vote weighed per query by how much BM25's top hits
agree with the dense ones (``FusionSettings.lexical_agreement``), against the same bot without it.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fusion.py ../shared/benchmarks [--values 0 0.5 1] [--limit N]

For MS MARCO-5k and SQuAD v2 dev seen as retrieval (``bench/robustness.py``'s sets and cached indexes, each
calibrated as ``Bot.load`` does), nDCG@10 in both forms of ``bot.ask`` for each value, beside dense alone
and BM25 alone; then hit@1 and highlight@1 of every labeled set for each value.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labeled import labeled_sets  # noqa: E402
from robustness import AskRanker, squad_as_beir  # noqa: E402

from qa.answer import calibration  # noqa: E402
from qa.answer.retrieval import FusionSettings  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate import benchmarks as b  # noqa: E402
from qa.evaluate.baselines import BM25Only, DenseOnly  # noqa: E402
from qa.evaluate.labeled import contains, load_questions, rank_of  # noqa: E402
from qa.store import IndexSettings  # noqa: E402


def retrieval(data: b.BeirSet, embedder: Embedder, name: str, cache: str, values: list[float]) -> None:
    ix = b.open_or_build(data.documents, IndexSettings(model=embedder.name), embedder.encode, cache)
    calibration.keep_or_redo(ix, embedder.encode)
    print(f"\n#### {name}: {len(data.documents):,} documents, {len(data.qrels):,} queries\n")
    print("| system | nDCG@10 | nDCG@10 (leaderboard) |\n|---|---|---|")
    for a in values:
        bot = Bot(ix, embedder, fusion=calibration.fusion_for(ix, FusionSettings(lexical_agreement=a)))
        s = b.beir_scores(AskRanker(bot), data)
        print(f"| bot.ask, agreement {a:g} | {s['nDCG@10']:.3f} | {s['nDCG@10 (leaderboard)']:.3f} |", flush=True)
    for label, ranker in {"dense alone": DenseOnly(data.documents, lambda t, **kw: embedder.encode(t)),
                          "BM25 alone": BM25Only(data.documents)}.items():
        s = b.beir_scores(ranker, data)
        print(f"| {label} | {s['nDCG@10']:.3f} | {s['nDCG@10 (leaderboard)']:.3f} |", flush=True)


def labeled(embedder: Embedder, values: list[float]) -> None:
    print("\n#### Labeled sets: hit@1 / highlight@1\n")
    print("| set | " + " | ".join(f"agreement {a:g}" for a in values) + " |\n|---|" + "---|" * len(values))
    for name, (bot, path) in labeled_sets(embedder).items():
        items = [q for q in load_questions(path) if q.get("answerable", True) is not False and "question" in q]
        cells = []
        for a in values:
            bot.fusion = calibration.fusion_for(bot.index, FusionSettings(lexical_agreement=a))
            bot._swap(bot.index)  # the answerer is rebuilt with these settings
            hit = light = 0
            for q in items:
                answer = bot.ask(q["question"])
                hit += rank_of(answer, q["answer"]) == 1
                light += bool(answer.citations) and contains(answer.citations[0].highlight, q["answer"])
            cells.append(f"{hit / len(items):.3f} / {light / len(items):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/ and squad-v2-dev/")
    p.add_argument("--values", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--limit", type=int, help="only the first N SQuAD questions")
    p.add_argument("--no-labeled", action="store_true")
    p.add_argument("--only-labeled", action="store_true")
    a = p.parse_args()
    embedder = Embedder()
    if not a.only_labeled:
        retrieval(b.load_beir(a.benchmarks / "msmarco-5k"), embedder, "MS MARCO-5k", "msmarco", a.values)
        squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
        retrieval(squad_as_beir(squad, a.limit), embedder, "SQuAD v2 dev as retrieval", "squad", a.values)
    if not a.no_labeled:
        labeled(embedder, a.values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
