"""Which signals tell an answerable question from an unanswerable one? AUC per labeled set.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/probes/abstention_probe.py ../shared/benchmarks

For every first-turn question of every labeled set (`bench/labeled.py`) and all of SQuAD v2 dev, ``bot.ask`` runs
as users get it, and the evidence the abstention rule sees is recorded: the top highlight's
support (what the rule thresholds), its cosine, the IDF-weighted share of the question's words
in the top passage, and two token-level signals from the same MiniLM ("soft coverage": each
question word's best cosine to a word piece of the highlight, in context, IDF-weighted; and the
worst-matched question word). Each is scored by its AUC (answerable above unanswerable), and the
rule "the best support among the top two" is counted as the abstention rule would apply it.

A second table sweeps the support floor, with and without the stated-year rule (a year the question
names that the found passage does not cover refuses the answer), as false / true abstentions. A third
sweeps an answer-type check, as in classic question answering: a question that asks for a quantity, a
time or a person ("how many…", "when…", "who…") gets ``bonus`` added to its support when the highlight
holds one (a number, a date, a capitalised name) and ``penalty`` taken off when it does not.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # qa, and the maintained benchmarks' helpers

import qa.answer.compose as answer  # noqa: E402
from qa.evaluate import benchmarks as b  # noqa: E402
from qa.answer import calibration  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from qa.store.lexical import tokenize  # noqa: E402
from labeled import labeled_sets  # noqa: E402

STOP = set("a an the of in on at to for from by with and or is are was were be been being do does did what which who whom "
           "whose when where why how that this these those it its as into than then there their they them i my me we our you "
           "your he she his her if not no can could would should will shall may might must has have had about after before "
           "over under between during per any some all more most much many so such also just only very up out off".split())


class Recorder:
    """Wraps ``Composer.judgement`` to keep what it saw for the last question (a verdict other than
    "answered" counts as abstaining: this probe measured the two-outcome rule issue 25 replaced)."""

    def __init__(self) -> None:
        self.last: dict = {}
        self._original = answer.Composer.judgement
        recorder = self

        def spy(composer, query, evidence):
            result = recorder._original(composer, query, evidence)
            verdict = result.outcome != "answered"
            ix, top = composer.index, evidence[0]
            chunk = ix.chunks[top.hit.chunk]
            idf = ix.lexical.idf(query.tokens)
            veto = any(  # the unknown-name rule, as should_abstain applies it
                [t for t, df in ix.lexical.doc_freq(tokenize(name)).items() if df == 0 and not ix.lexical.near(t)]
                and not answer.spells_out(name, chunk.text) for name in query.name_spans)
            years = not answer.covers_years(query.stated_years, f"{chunk.title}\n{chunk.text}")
            recorder.last = dict(veto=veto, years=years, followup=query.is_followup,
                support=[float(e.support) for e in evidence[:2]], cosine=float(top.cosine), defines=bool(top.defines),
                pcov=answer.coverage(set(tokenize(chunk.text)), idf, query.tokens), verdict=verdict, text=query.text,
                highlight=chunk.text[top.start - chunk.start:top.end - chunk.start], idf=idf)
            return result

        answer.Composer.judgement = spy

    def rows(self, bot: Bot, items: list[tuple[str, bool]]) -> list[dict]:
        """What the rule saw for each question, with whether it is answerable (none when nothing was retrieved)."""
        out = []
        for question, answerable in items:
            self.last = {}
            bot.ask(question)
            if self.last:
                out.append({**self.last, "answerable": answerable})
        return out


def first_turns(embedder: Embedder) -> dict[str, tuple[Bot, list[tuple[str, bool]]]]:
    """Every labeled set's first-turn questions, each with whether it is answerable, and a bot over its collection."""
    return {name: (bot, [(q["question"], q.get("answerable", True) is not False) for q in load_questions(path) if "turns" not in q])
            for name, (bot, path) in labeled_sets(embedder).items()}


def soft_signals(embedder: Embedder, rows: list[dict]) -> None:
    """Token-level coverage of the question by the top highlight, in MiniLM's own word pieces."""
    model = embedder._model
    tok = model.tokenizer

    def vectors(texts: list[str]) -> list[np.ndarray]:
        out = model.encode(texts, output_value="token_embeddings", batch_size=64, convert_to_numpy=False)
        return [(v / np.linalg.norm(v, axis=1, keepdims=True)) for v in (t.numpy() for t in out)]

    qv, sv = vectors([r["text"] for r in rows]), vectors([r["highlight"] or "." for r in rows])
    for r, q, s in zip(rows, qv, sv):
        best = (q @ s[1:-1].T).max(axis=1) if len(s) > 2 else np.zeros(len(q))
        enc = tok(r["text"], truncation=True, max_length=256)
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(enc.word_ids()):
            if w is not None:
                groups.setdefault(w, []).append(i)
        top_idf = max(r["idf"].values(), default=1.0)
        num = den = 0.0
        worst = 1.0
        for w, pieces in groups.items():
            a, z = enc.word_to_chars(w)
            word = r["text"][a:z]
            toks = tokenize(word)
            if not toks or word.lower() in STOP or not re.match(r"\w", word):
                continue
            weight = max(r["idf"].get(t, 0.0) for t in toks) or top_idf  # a word the collection lacks weighs most
            val = float(best[pieces].mean())
            num, den, worst = num + weight * val, den + weight, min(worst, val)
        r["soft"], r["worst"] = (num / den if den else 0.0), worst


_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
                 "hundred|thousand|million|billion|trillion|dozen|half|quarter|double|twice")
_TIME_WORDS = ("January|February|March|April|May|June|July|August|September|October|November|December|Monday|"
               "Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|spring|summer|autumn|winter|century|decade")
ANSWER_TYPES = [  # what the question asks for, and what a highlight that gives it holds
    (re.compile(r"\bhow\s+(?:many|much|long|far|old|big|large|tall|high|deep|wide|heavy|fast|soon|often|quickly)\b|"
                r"\bwhat\s+(?:percentage|percent|share|proportion|fraction|number|amount)\b", re.I),
     re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)),
    (re.compile(r"^\s*when\b|\b(?:what|which|in what)\s+(?:year|date|day|month|time|decade|century)\b", re.I),
     re.compile(rf"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b(?:{_TIME_WORDS})\b|\d{{1,2}}[:.]\d{{2}}|\b\d{{1,2}}\s*(?:am|pm|o'clock)\b", re.I)),
    (re.compile(r"^\s*(?:who|whom|whose)\b|\b(?:which|what)\s+(?:person|people|company|companies|firms?|organi[sz]ations?)\b", re.I),
     re.compile(r"(?<!^)(?<![.?!:]\s)\b[A-Z][a-z]+")),
]


def answer_type(question: str, highlight: str) -> bool | None:
    """Whether the highlight holds the kind of thing the question asks for; None for other questions."""
    for asks, holds in ANSWER_TYPES:
        if asks.search(question):
            return bool(holds.search(highlight))
    return None


def auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    ranks = np.concatenate([pos, neg]).argsort().argsort() + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding squad-v2-dev/")
    a = p.parse_args()
    embedder, rec = Embedder(), Recorder()
    squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
    squad_ix = b.open_or_build(squad.documents, IndexSettings(model=embedder.name), embedder.encode, "squad")
    calibration.keep_or_redo(squad_ix, embedder.encode)
    sets = first_turns(embedder)
    sets["SQuAD v2 dev"] = (Bot(squad_ix, embedder), [(q, True) for q, _ in squad.answerable] + [(q, False) for q, _ in squad.unanswerable])
    print("| set | support (the rule's) | cosine | word coverage of passage | soft coverage (token level) | worst-matched word | "
          "false / true abstentions: rule | best support of top 2 |\n|---|---|---|---|---|---|---|---|")
    sweeps, typed = {}, {}
    for name, (bot, items) in sets.items():
        rows = rec.rows(bot, items)
        soft_signals(embedder, rows)
        ans, una = [r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]
        cols = [auc([r[k] if k != "support" else r[k][0] for r in ans], [r[k] if k != "support" else r[k][0] for r in una])
                for k in ("support", "cosine", "pcov", "soft", "worst")]
        floor = answer.AnswerSettings().min_support
        rule = [(sum(r["verdict"] for r in ans), sum(r["verdict"] for r in una)),
                tuple(sum(refused(r, floor, True, best_of=2) for r in group) for group in (ans, una))]
        fmt = lambda f, t: f"{f / max(1, len(ans)):.1%} / {t / max(1, len(una)):.1%}"  # noqa: E731
        print(f"| {name} ({len(ans)} + {len(una)}) | " + " | ".join(f"{c:.3f}" for c in cols) + f" | {fmt(*rule[0])} | {fmt(*rule[1])} |", flush=True)
        sweeps[name] = [fmt(*(sum(refused(r, floor, use_years) for r in group) for group in (ans, una)))
                        for floor, use_years in SWEEP]
        typed[name] = [fmt(*(sum(refused(r, floor, True, bonus=bonus, penalty=penalty) for r in group) for group in (ans, una)))
                       for floor, bonus, penalty in TYPE_SWEEP]
        matched = [(r["answerable"], answer_type(r["text"], r["highlight"] or "")) for r in rows]
        print(f"  {name}: answer-type questions {sum(m is not None for a, m in matched if a)} answerable "
              f"({sum(m is True for a, m in matched if a)} with the type in the highlight), "
              f"{sum(m is not None for a, m in matched if not a)} unanswerable ({sum(m is True for a, m in matched if not a)})")
    print("\n| support floor | stated-year rule | " + " | ".join(f"{n}: false / true" for n in sweeps) + " |\n|---|---|" + "---|" * len(sweeps))
    for i, (floor, use_years) in enumerate(SWEEP):
        print(f"| {floor} | {'on' if use_years else 'off'} | " + " | ".join(cells[i] for cells in sweeps.values()) + " |")
    print("\n| support floor | answer-type bonus / penalty | " + " | ".join(f"{n}: false / true" for n in typed) + " |\n|---|---|" + "---|" * len(typed))
    for i, (floor, bonus, penalty) in enumerate(TYPE_SWEEP):
        print(f"| {floor} | {bonus} / {penalty} | " + " | ".join(cells[i] for cells in typed.values()) + " |")
    return 0


SWEEP = [(f, y) for y in (False, True) for f in (0.40, 0.41, 0.42, 0.43)]
TYPE_SWEEP = [(f, b, p) for f in (0.42, 0.43, 0.44) for b in (0.0, 0.02, 0.04, 0.06) for p in (0.0, 0.03)]


def refused(r: dict, floor: float, use_years: bool, best_of: int = 1, bonus: float = 0.0, penalty: float = 0.0) -> bool:
    """The abstention rule as ``Composer.should_abstain`` applies it, at another floor (``best_of=2``:
    judged on the best support among the top two citations; ``bonus``/``penalty``: the answer-type check)."""
    settings = answer.AnswerSettings()
    if r["defines"]:
        return False
    support = max(r["support"][:best_of])
    if bonus or penalty:
        typed = answer_type(r["text"], r["highlight"] or "")
        support += bonus if typed is True else -penalty if typed is False else 0.0
    low = r["cosine"] < settings.min_sentence or support < (settings.min_support_followup if r["followup"] else floor)
    return low or (use_years and r["years"]) or r["veto"]


if __name__ == "__main__":
    sys.exit(main())
