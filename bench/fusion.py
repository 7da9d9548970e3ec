"""Fusion that travels (issue 25, item 6): the lexical vote weighed per query by how much BM25's top hits
agree with the dense ones (``FusionSettings.lexical_agreement``), against the same bot without it.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fusion.py ../shared/benchmarks [--values 0 0.5 1] [--limit N]
    HF_HUB_OFFLINE=1 .venv/bin/python bench/fusion.py ../shared/benchmarks --only-labeled --weights 0.5/0.2/0.3 0.4/0.3/0.3

For MS MARCO-5k and SQuAD v2 dev seen as retrieval (``bench/robustness.py``'s sets and cached indexes, each
calibrated as ``Bot.load`` does), nDCG@10 in both forms of ``bot.ask`` for each value, beside dense alone
and BM25 alone; then hit@1 and highlight@1 of every labeled set for each value. ``--weights`` compares,
instead of agreement values, the default passage/sentence/lexical weights that collections too small to
calibrate (under 300 passages: every labeled set's) are searched with.
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
        bot.prepare_words()  # as a server does at start: every query then sees the collection's words
        s = b.beir_scores(AskRanker(bot), data)
        print(f"| bot.ask, agreement {a:g} | {s['nDCG@10']:.3f} | {s['nDCG@10 (leaderboard)']:.3f} |", flush=True)
    for label, ranker in {"dense alone": DenseOnly(data.documents, lambda t, **kw: embedder.encode(t)),
                          "BM25 alone": BM25Only(data.documents)}.items():
        s = b.beir_scores(ranker, data)
        print(f"| {label} | {s['nDCG@10']:.3f} | {s['nDCG@10 (leaderboard)']:.3f} |", flush=True)


def labeled(embedder: Embedder, settings: dict[str, FusionSettings], weights: bool = False) -> None:
    """``weights``: the settings' weights stand in for the defaults (every labeled collection is too small to
    calibrate); else the collection's calibrated weights are kept and only the other settings change."""
    print("\n#### Labeled sets: hit@1 / highlight@1 (the everyday set in its tuning and reporting halves)\n")
    print("| set | " + " | ".join(settings) + " |\n|---|" + "---|" * len(settings))
    for name, (bot, path) in labeled_sets(embedder).items():
        items = [q for q in load_questions(path) if q.get("answerable", True) is not False and "question" in q]
        halves = {name: items} if name != "everyday" else {
            f"{name} ({h})": [q for q in items if q.get("split") == h] for h in ("tune", "report")}
        cells: dict[str, list[str]] = {h: [] for h in halves}
        for base in settings.values():
            bot.fusion = base if weights else calibration.fusion_for(bot.index, base)
            bot._swap(bot.index)  # the answerer is rebuilt with these settings
            for h, qs in halves.items():
                hit = light = 0
                for q in qs:
                    answer = bot.ask(q["question"])
                    hit += rank_of(answer, q["answer"]) == 1
                    light += bool(answer.citations) and contains(answer.citations[0].highlight, q["answer"])
                cells[h].append(f"{hit / len(qs):.3f} / {light / len(qs):.3f}")
        for h, row in cells.items():
            print(f"| {h} | " + " | ".join(row) + " |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/ and squad-v2-dev/")
    p.add_argument("--values", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--limit", type=int, help="only the first N SQuAD questions")
    p.add_argument("--no-labeled", action="store_true")
    p.add_argument("--only-labeled", action="store_true")
    p.add_argument("--weights", nargs="+", metavar="P/S/L", help="default fusion weights to compare on the labeled sets")
    a = p.parse_args()
    embedder = Embedder()
    if not a.only_labeled:
        retrieval(b.load_beir(a.benchmarks / "msmarco-5k"), embedder, "MS MARCO-5k", "msmarco", a.values)
        squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
        retrieval(squad_as_beir(squad, a.limit), embedder, "SQuAD v2 dev as retrieval", "squad", a.values)
    if not a.no_labeled:
        if a.weights:
            settings = {f"weights {w}": FusionSettings(**dict(zip(("passage", "sentence", "lexical"), map(float, w.split("/")))))
                        for w in a.weights}
        else:
            settings = {f"agreement {v:g}": FusionSettings(lexical_agreement=v) for v in a.values}
        labeled(embedder, settings, weights=bool(a.weights))
    return 0


if __name__ == "__main__":
    sys.exit(main())
