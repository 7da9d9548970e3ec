"""Fit ``Answer.confidence`` (qa/answer/judge.py) from labeled questions, and check it on questions it never saw.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/outcomes.py --dump /tmp/records.jsonl
    .venv/bin/python bench/confidence.py /tmp/records.jsonl

A logistic model over the signals ``Composer`` measures for its best evidence (``judge.FEATURES``),
fitted (Newton's method, a light L2 penalty) on the tuning sets: the everyday set's tuning half, and
``questions``, ``mixed`` and ``negations``. It is reported on the rest: the everyday set's reporting half
(other documents than the tuning half's), ``heldout`` and ``heldout2``. A question's label is whether its
first highlight holds the answer; an unanswerable question's is 0. Then the threshold from which an answer
is stated (``ANSWER_AT``) is the lowest at which each tuning set's unanswerable questions are answered
without a warning at most ``--unwarned`` of the time (each set on its own: pooled, a set of easy unanswerable
questions would make room for another set's hard ones), and the off-topic floors the highest that no
answerable question of the tuning sets falls under. It prints the constants to paste into judge.py and
the figures on both halves.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outcomes import ece  # noqa: E402

from qa.answer.judge import ABOUT_ITSELF_AT_MOST, FEATURES, NAME_MISSING_AT_MOST, WEIGHTS  # noqa: E402

TUNE = {"questions", "mixed", "negations", "everyday (tune)"}
REPORT = {"heldout", "heldout2", "everyday (report)"}


RULES = ("unknown_name", "years_missing", "name_missing", "about_itself", "title_first")
# capped lower than just under ANSWER_AT, as judge.judge caps them
LOW_CAPS = {"name_missing": NAME_MISSING_AT_MOST, "about_itself": ABOUT_ITSELF_AT_MOST, "title_first": ABOUT_ITSELF_AT_MOST}


def group(r: dict) -> str:
    return r["set"] + (f" ({r['split']})" if r["split"] else "")


def matrix(rows: list[dict], features=FEATURES) -> np.ndarray:
    return np.array([[1.0 if f == "bias" else float(r["signals"].get(f, 0.0)) for f in features] for r in rows])


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def ruled(r: dict) -> bool:
    """Left tentative by a rule whatever the confidence (judge.judge): a name no document mentions, a year the
    passage does not cover, a post holder's name not given, a document describing itself (or what stood in for
    its title)."""
    return r["outcome"] == "tentative" and any(r["signals"].get(f) for f in RULES)


def stated_from(unanswerable: list[float], unwarned: float) -> float | None:
    """The lowest threshold that leaves at most ``unwarned`` of these unanswerable questions' confidences at
    or above it (all but that many stay below)."""
    una = sorted(unanswerable)
    if not una:
        return None  # a set without unanswerable questions sets no threshold
    allowed = int(unwarned * len(una))
    return una[len(una) - allowed - 1] + 1e-4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", type=Path)
    ap.add_argument("--unwarned", type=float, default=0.10, help="unanswerable questions answered without a warning, at most")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--tune", default=",".join(sorted(TUNE)), help="the sets to fit on (the rest report)")
    ap.add_argument("--features", default=",".join(FEATURES), help="signals to fit on (default: judge.FEATURES)")
    ap.add_argument("--keep-weights", action="store_true", help="keep judge.WEIGHTS; only choose the threshold")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.records.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["signals"]]  # no evidence at all: nothing to judge
    fitted = set(args.tune.split(","))
    tune, report = [r for r in rows if group(r) in fitted], [r for r in rows if group(r) not in fitted]
    features = tuple(args.features.split(","))
    if args.keep_weights and features != FEATURES:
        ap.error("--keep-weights keeps judge.WEIGHTS, which are for judge.FEATURES: leave --features out")
    w = (np.array(WEIGHTS) if args.keep_weights
         else fit(matrix(tune, features), np.array([float(r["right"]) for r in tune]), args.l2))
    for part in (tune, report):
        p = 1 / (1 + np.exp(-np.clip(matrix(part, features) @ w, -30, 30)))
        for r, c in zip(part, p):
            r["confidence"] = float(min([c] + [cap for f, cap in LOW_CAPS.items() if r["signals"].get(f)]))
    # a question a rule leaves tentative is never unwarned, whatever its confidence: it counts as below any threshold
    thresholds = [stated_from([0.0 if ruled(r) else r["confidence"] for r in tune if group(r) == name and not r["answerable"]],
                              args.unwarned) for name in fitted]
    answer_at = max((t for t in thresholds if t is not None), default=0.5)
    for r in tune + report:  # the rules' cap, as judge.judge applies it
        if ruled(r) and not any(r["signals"].get(f) for f in LOW_CAPS):
            r["confidence"] = min(r["confidence"], answer_at - 0.01)
    answerable = [r for r in tune if r["answerable"]]
    floor_sentence = min(r["signals"]["cosine"] for r in answerable)
    floor_passage = min(r["signals"]["passage"] for r in answerable)
    print("FEATURES = " + repr(features))
    print("WEIGHTS = (" + ", ".join(f"{v:.3f}" for v in w) + ")")
    print(f"ANSWER_AT = {answer_at:.3f}")
    print(f"lowest sentence / passage cosine of an answerable tuning question: {floor_sentence:.3f} / {floor_passage:.3f}")
    print("\n| half | set | answerable | stated right | tentative | unanswerable | unwarned | ECE |\n|---|---|---|---|---|---|---|---|")
    for half, part in (("tune", tune), ("report", report)):
        names = sorted({group(r) for r in part})
        for name in names + ["all"]:
            g = [r for r in part if name == "all" or group(r) == name]
            a = [r for r in g if r["answerable"]]
            u = [r for r in g if not r["answerable"]]
            stated = sum(r["right"] and r["confidence"] >= answer_at for r in a) / max(1, len(a))
            tentative = sum(r["confidence"] < answer_at for r in a) / max(1, len(a))
            unwarned = sum(r["confidence"] >= answer_at for r in u) / max(1, len(u))
            print(f"| {half} | {name} | {len(a)} | {stated:.3f} | {tentative:.3f} | {len(u)} | {unwarned:.3f} | {ece(g)[0]:.3f} |")
    total, table = ece([r for r in report if group(r) == "everyday (report)"])
    print(f"\nReliability, everyday reporting half (ECE {total:.3f}):\n\n| confidence | questions | mean confidence | right |\n|---|---|---|---|")
    for label, n, conf, acc in table:
        print(f"| {label} | {n} | {conf:.3f} | {acc:.3f} |")


if __name__ == "__main__":
    main()
