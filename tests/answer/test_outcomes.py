"""Three outcomes instead of two (issue 25): answered, tentative, not found, through the real bot, with a
calibrated confidence and a one-line reason; a found answer is never withheld; captions never answer."""
from __future__ import annotations

import json
import re

import pytest

from qa.answer.evidence import describes_itself, is_caption, shows_itself
from qa.answer.judge import ANSWER_AT, is_yes_no
from qa.answer.writer import written
from qa.bot import Bot
from qa.evaluate.labeled import contains, load_questions
from qa.serve.chat import EXAMPLES

from ..conftest import ROOT, build_bot, write_corpus

WATER_REPORT = [
    ["The district supplied 38,400 homes and businesses in 2025. Demand rose by two percent on the year before.",
     "The board approved a 4.2 percent rate increase, effective January 2026, to pay for the new treatment plant "
     "and for replacing old mains. A typical household will pay about 3 dollars more each month."],
    ["The new treatment plant at Harrow Bend began operating in March 2025, on time and within its budget.",
     "Crews replaced 11 kilometres of cast-iron mains. Leaks fell by a fifth.",
     "Customers can report a leak at any hour on 0800 555 0199."],
]


@pytest.fixture(scope="module")
def water_bot(tmp_path_factory, embedder):
    from ..writers import write_pdf

    folder = tmp_path_factory.mktemp("water")
    corpus = folder / "docs"
    corpus.mkdir()
    write_pdf(corpus / "water-report.pdf", WATER_REPORT, title="Lindell Valley Water District: Annual Report 2025",
              heading="Lindell Valley Water District — Annual Report 2025")
    return Bot.load(corpus=corpus, index=folder / "index", on_status=lambda m: None)


def test_the_three_outcomes_through_the_real_bot(shipped_bot):
    answered = shipped_bot.ask("How many industrial robots did China install in 2023?")
    assert answered.outcome == "answered" and not answered.tentative and not answered.abstained
    assert answered.confidence >= ANSWER_AT and answered.reason == "" and "276,000" in answered.text
    tentative = shipped_bot.ask("How many industrial robots did China install in 2019?")
    assert tentative.outcome == "tentative" and tentative.tentative and not tentative.abstained
    assert tentative.confidence < ANSWER_AT and tentative.reason and "\n" not in tentative.reason
    assert "276,000" in tentative.citations[0].highlight and tentative.citations[0].highlight in tentative.text
    assert "None of the documents" not in tentative.text
    missing = shipped_bot.ask("Who won the 2018 FIFA World Cup?")
    assert missing.outcome == "not found" and missing.abstained and missing.reason == "No document mentions FIFA."
    for a in (answered, tentative, missing):
        assert 0.0 <= a.confidence <= 1.0
        d = json.loads(json.dumps(a.to_dict()))
        assert d["outcome"] == a.outcome and d["tentative"] == a.tentative and d["reason"] == a.reason


def test_a_tentative_answer_shows_the_next_closest_sentence_when_it_is_nearly_as_good(shipped_bot):
    """Unsure of its best sentence, the bot also shows the next closest one when its support is within
    ``runner_up_share`` of the best (as an answer states a second sentence): the reply then holds the answer
    for one tentative answer in ten more. The rule is checked against the signals the answer carries (its
    best support, and its lead over the runner-up), and the sentence shown is cited, so its card is open."""
    from qa.answer.query import AnswerSettings
    from qa.serve.render import cited_numbers

    share, shown = AnswerSettings().runner_up_share, 0
    for question in ("How fast is China adding power capacity?", "Why does energy matter in the AI race?",
                     "Is the US grid ready for AI?", "Who is winning on open models?",
                     "How many industrial robots did China install in 2019?"):
        a = shipped_bot.ask(question)
        if a.outcome != "tentative":
            continue
        first, second = a.citations[0].highlight, a.citations[1].highlight
        near = 1 - a.signals["lead"] / a.signals["support"] >= share and second not in first and first not in second
        head, _, rest = a.text.partition(" Next closest: ")
        assert first in head and head.endswith("[1]")
        if near:  # the runner-up is the second citation, shown after the best
            shown += 1
            assert rest == f"{second} [2]" and cited_numbers(a) == {1, 2}
        else:  # the second is not close enough; a later citation may be, never one below the share
            assert not rest or re.fullmatch(r".+ \[[3-5]\]", rest)
    assert shown >= 2


GROOMERS = """# Pawsome Parlour grooming: what to know before your visit

## Booking
Appointments can be booked online or by phone on 01632 960 411. We groom dogs only; we do not take cats or rabbits.

## Cancellations
If you cancel with less than 24 hours' notice, the deposit is kept. If you do not turn up at all, we may ask for the full price before your next booking.

## Prices
A full groom for a small dog costs £35, a medium dog £45 and a large dog £60.
Nail clipping on its own is £8 and needs no appointment on weekday mornings.
"""


def test_not_found_only_when_the_next_passages_are_off_topic_too(tmp_path):
    """A three-passage collection: BM25 puts the passage matching "morning" first, far from the question,
    while the one about cancelling is on its topic. That is not "nothing in the documents is about this":
    the reply is tentative and the cancellation passage is among those it shows. A question about nothing
    in the documents is still not found, and ``judge`` says so only when the runners-up are far as well."""
    from qa.answer.judge import judge

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "groomers.md").write_text(GROOMERS, encoding="utf-8")
    bot = Bot.load(corpus=docs, index=tmp_path / "index", on_status=lambda m: None)
    a = bot.ask("If I can't make it tomorrow morning, do I lose my money?")
    assert a.outcome == "tentative" and "Nothing in the documents" not in a.text
    assert any("the deposit is kept" in c.highlight for c in a.citations[:3])
    assert bot.ask("What is the capital of Peru?").outcome == "not found"
    far = {"passage": 0.07, "cosine": 0.2, "terms": 0.1, "years_missing": 0.0}
    assert judge(far, [], False).outcome == "not found"
    assert judge({**far, "runner_on_topic": 1.0}, [], False).outcome == "tentative"


def test_a_found_answer_is_never_withheld_when_asked_in_peoples_words(water_bot):
    """The issue's water report: the sentence is found, so it is said, as an answer or a tentative one."""
    for question, expected in (("Will my water bill go up?", ("4.2 percent", "3 dollars")),
                               ("When did the new plant open?", ("March 2025",))):
        a = water_bot.ask(question)
        assert not a.abstained, (question, a.text)
        assert any(e in a.citations[0].highlight for e in expected), (question, a.citations[0].highlight)
        assert a.citations[0].highlight in a.text and a.citations[0].page in (1, 2)
    # Its best sentence is another (a known miss: "higher" finds "Demand rose"), but it is shown, not refused.
    assert not water_bot.ask("Is my bill going to be higher next year?").abstained
    off_topic = water_bot.ask("Which striker scored the most goals in the Champions League?")
    assert off_topic.abstained and off_topic.reason and "None of the documents" not in off_topic.text


@pytest.mark.parametrize("question,expected", list(zip(EXAMPLES, ["276,000", "$109 billion", "Big Fund", "limiting factor"])))
def test_every_example_the_chat_offers_is_answered_with_a_right_highlight(shipped_bot, question, expected):
    a = shipped_bot.ask(question)
    assert a.outcome == "answered", (a.outcome, a.confidence, a.reason)
    assert expected in a.citations[0].highlight


def test_captions_of_pictures_are_recognised_and_never_the_answering_sentence(shipped_bot):
    assert is_caption("Massive energy grid infrastructure connected to a high-density AI data center")
    assert is_caption("Developer hands typing code with global open-source icons representing Chinese model diffusion")
    assert not is_caption("The Musk Energy Thesis: Why Power Grids Beat GPUs")  # a heading
    assert not is_caption("Frontier Models United States Algorithm Innovation Convergence")  # a table row
    assert not is_caption("• Warm jumper or fleece, and a waterproof coat for the walk")  # a list item
    assert not is_caption("The grid is ready for more data centers than before.")  # a sentence
    captions = {line.strip() for p in (ROOT / "corpus").glob("*.txt") for line in p.read_text(encoding="utf-8").splitlines()
                if is_caption(line)}
    assert len(captions) >= 5
    questions = [q["question"] for name in ("questions", "heldout", "heldout2")
                 for q in load_questions(ROOT / "tests" / "data" / f"{name}.jsonl") if "question" in q]
    questions += EXAMPLES + ["Is the US grid ready for AI?", "What does the energy grid of an AI data center look like?",
                             "Which charts compare US and Chinese models?"]
    for q in questions:
        top = shipped_bot.ask(q).citations[0].highlight.strip()
        assert top not in captions, (q, top)


def test_the_form_of_a_question_is_read_in_peoples_words():
    assert is_yes_no("Is the pool open on holidays?") and is_yes_no("I'm self-employed. Do I still have to pay?")
    assert is_yes_no("My son is 14 — can he ride alone?") and is_yes_no("Can I bring my dog?")
    assert not is_yes_no("How many industrial robots did China install in 2023?") and not is_yes_no("What is the Big Fund?")


def test_a_written_answer_whose_every_sentence_is_backed_is_answered(shipped_bot):
    """With a language model, its checked sentences decide: retrieval alone was tentative here, the written
    sentence restates the passage and passes the real checker, so the answer is stated."""
    from qa.answer.checker import Checker

    bot = shipped_bot
    tentative = bot.ask("How fast is China adding power capacity?")
    assert tentative.outcome == "tentative", tentative.outcome
    first = tentative.citations[0]
    sentence = re.split(r"(?<=[.!?])\s+", first.highlight)[0]
    checker = Checker(bot.embedder.encode, bot.index.lexical.idf, stored=bot._answerer.stored_sentences)
    text = f"{sentence} [1]"
    checks = checker.check(text, tentative.citations)
    assert all(c.supported for c in checks), [(c.text, c.reason) for c in checks]
    answer = written(tentative, "a model", text, checks, lambda c: c)
    assert answer.outcome == "answered" and answer.generated and answer.confidence >= ANSWER_AT
    unbacked = checker.check("China has banned all power plants since 1990. [1]", tentative.citations)
    assert not all(c.supported for c in unbacked)
    assert written(tentative, "a model", "China has banned all power plants since 1990. [1]", unbacked,
                   lambda c: c).outcome == "tentative"


def test_every_labeled_set_keeps_its_highlights_and_no_answer_is_withheld(shipped_bot):
    """hit@1 and highlight@1 of the shipped corpus's sets as before the three outcomes (bench/outcomes.py has
    every set); an answerable question is never "not found" while its answer is the first highlight."""
    floors = {"questions": (0.96, 0.92), "heldout": (0.95, 0.85), "heldout2": (0.96, 0.90)}
    for name, (hit_floor, highlight_floor) in floors.items():
        items = [q for q in load_questions(ROOT / "tests" / "data" / f"{name}.jsonl") if "question" in q]
        hits = highlights = 0
        answerable = [q for q in items if q.get("answerable", True) is not False]
        for item in answerable:
            a = shipped_bot.ask(item["question"])
            hits += contains(a.citations[0].passage, item["answer"])
            right = contains(a.citations[0].highlight, item["answer"])
            highlights += right
            assert not (right and a.abstained), (name, item["question"])
        assert hits / len(answerable) >= hit_floor and highlights / len(answerable) >= highlight_floor, (name, hits, highlights)


LEAVE = """# Ashdown & Pike: Annual Leave Policy

This policy applies to everyone employed by Ashdown & Pike, full-time or part-time. It does not apply to agency workers, who follow their agency's terms.

## How much leave you get
Full-time staff get 25 days of paid leave a year, plus bank holidays. After five years of service this rises to 28 days.

## Booking leave
Ask your line manager through the HR portal at least two weeks before you want to go.

## Leaving the company
When you leave, we pay you for any leave you have built up but not taken. If you have taken more than you built up, the difference is taken from your final salary.

## Carrying leave over
You may carry up to five unused days into the next leave year. They must be used by the end of March, or they are lost.
"""


def test_a_document_describing_itself_answers_only_what_it_covers(tmp_path, embedder):
    """"This policy applies to everyone employed by Ashdown & Pike…" names the firm and the topic, so it lies close
    to every question about the firm's leave; it answers only whom the policy covers. Its passage goes after the
    others, and as the best evidence it is never stated (on the labeled sets it held no other answer, 0 of 41)."""
    from dataclasses import replace

    assert describes_itself("Car Insurance: Policy Summary\n\nThis summary gives the key features of your car insurance.")
    assert describes_itself("These terms apply to every membership at our clubs.")
    assert describes_itself("Next review: September 2025.\n\nThis policy sets out how the After-School Club is run.")
    assert not describes_itself("This is free.") and not describes_itself("Parking is free. This guide explains the bins.")
    assert not describes_itself("This policy does not apply to agency workers.")  # whom it leaves out answers a question
    assert not shows_itself("This policy covers you for up to £1,000 of legal costs.",
                            "This policy covers you for up to £1,000 of legal costs.")  # an amount is substance
    bot = build_bot(write_corpus(tmp_path / "docs", {"leave.md": LEAVE}), tmp_path / "index", embedder)
    quit_ = "If I quit Ashdown & Pike with holiday left over, do I get paid for it?"
    assert "we pay you for any leave" in bot.ask(quit_).citations[0].highlight
    covered = bot.ask("I'm an agency worker at Ashdown & Pike. Does this policy cover me?")
    assert "does not apply to agency workers" in covered.citations[0].highlight and covered.outcome == "answered"
    # the scope asked in other words: whom the policy leaves out is no description of itself
    agency = bot.ask("Do agency workers get leave at Ashdown & Pike?")
    assert "does not apply to agency workers" in agency.citations[0].highlight and agency.outcome == "answered"
    for question in ("Who is the HR director at Ashdown & Pike?", "Is there a Christmas shutdown at Ashdown & Pike?"):
        a = bot.ask(question)
        assert a.outcome != "answered" and not describes_itself(a.citations[0].highlight), question
    composer = bot._answerer.composer
    composer.settings = replace(composer.settings, self_penalty=0.0)  # without the rule, the description comes first
    before = bot.ask(quit_)
    assert describes_itself(before.citations[0].highlight) and before.outcome == "tentative" and before.confidence <= 0.1
