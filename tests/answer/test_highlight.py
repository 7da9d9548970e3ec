"""Which sentence is shown for a question asked in people's words: the one whose age range holds the
asker's age, both of two neighbours the evidence cannot tell apart, and never "not found" for a name
that only sets the scene."""
from __future__ import annotations

from dataclasses import replace

import pytest

from qa.answer.ages import OPEN, age_fit, age_ranges, asker_ages
from qa.answer.compose import Composer
from qa.answer.evidence import asking_lines, is_greeting
from qa.answer.kinds import asks_consequence
from qa.bot import Bot
from qa.ingest.chunking import sentence_spans
from qa.store.lexical import tokenize

from ..conftest import write_corpus
from . import Unnamed

POOL = """# Millbrook Community Pool

## Prices

Adult swim | £4.80 per visit
Junior swim, ages 3 to 15 | £3.10 per visit
Over-60s swim | £3.60 per visit
Children under 3 swim free with a paying adult.

## Supervision

Children under 8 must be accompanied in the water by a responsible person aged 16 or over. Each responsible person may supervise no more than two children under 8. Children aged 8 and over may swim without an adult.
"""
FAQ = """# Riverton Wheels help

## There is no free dock at the station.

If there is no space anywhere nearby, call support and we will tell you where to leave the bike.

## The dock won't lock my bike.

Push the bike firmly into the dock until the light turns green. If it stays red, try another dock and report the faulty one in the app.
"""
POLICY = """# Travel and passes

## Refunds

Passes that have never been used can be refunded in full within 60 days of purchase. Once a pass has been used, it cannot be refunded or exchanged, except in the case of a documented medical emergency. Refunds are paid to the card used to buy the pass.

## Trips

Any trip that involves an overnight stay, and any single purchase above £250, must be approved in advance by your studio lead. Trips abroad need sign-off from one of the partners as well as your studio lead.
"""


@pytest.mark.parametrize("question,ages", [
    ("I'm 67. Can I get cheaper fares?", {67}),
    ("How much is a swim for my 70-year-old dad?", {70}),
    ("My son is 14. Can he ride the share bikes?", {14}),
    ("Can I take my 6-year-old and her two friends, who are also 6, swimming?", {6}),
    ("I turned 18 yesterday. Can I ride alone?", {18}),
    ("I'm 16 today, can I ride?", {16}),
    ("What happens if I'm 10 minutes late?", set()),  # minutes, not an age
    ("I'm 10 min late and 4 hrs from home, is that OK?", set()),
    ("Is the fare 5 dollars?", set()),
    ("Is my 2.5-year-old free?", set()),  # not 5
    ("My 14yo wants to join. Can she?", {14}),  # as people type it
    ("Can my 9 y/o swim alone?", {9}),
    ("I have 2 yoghurts and live in York YO10 5DD. Can I come?", set()),
])
def test_the_askers_age_is_read_from_the_question(question, ages):
    assert asker_ages(question) == ages


def test_age_ranges_as_documents_write_them():
    assert age_ranges("Reduced fares are available to riders aged 65 and over.") == ((65, OPEN),)
    assert age_ranges("Over-60s swim | £3.60 per visit") == ((60, OPEN),)
    assert age_ranges("Junior swim, ages 3 to 15 | £3.10") == ((3, 15),)
    assert age_ranges("Riders must be at least 16 years old.") == ((16, OPEN),)
    assert age_ranges("Children under 5 ride free.") == ((0, 4),)
    assert set(age_ranges("Seniors 65+ ride free, children (5-15) pay half.")) == {(65, OPEN), (5, 15)}
    # durations, measures, money and counts are not ages
    for text in ("Trips over 30 minutes cost more.", "Visitors under 2 hrs park free.", "Loans of 5 to 10 years.",
                 "Children over 1.2m pay full fare.", "Orders of 50 or under ship free.", "Pay £3.60 and under.",
                 "Guests over 3 nights get a discount.", "People over 1,000 attended."):
        assert age_ranges(text) == (), text
    assert age_fit(frozenset({70}), "Over-60s swim") == 1 and age_fit(frozenset({70}), "Junior swim, ages 3 to 15") == -1
    assert age_fit(frozenset({70}), "The pool has six lanes.") == 0


def _bot_over(tmp_path_factory, name: str, files: dict[str, str]) -> Bot:
    tmp = tmp_path_factory.mktemp(name)
    return Bot.load(corpus=write_corpus(tmp / "docs", files), index=tmp / "index", on_status=lambda m: None)


@pytest.fixture(scope="module")
def bot(tmp_path_factory, embedder):
    return _bot_over(tmp_path_factory, "highlight", {"pool.md": POOL, "policy.md": POLICY, "faq.md": FAQ})


def _without(bot: Bot, **settings):
    answerer = bot._answerer
    return replace(answerer, composer=Composer(answerer.index, replace(answerer.composer.settings, **settings)))


def test_the_row_whose_age_range_holds_the_askers_age_is_highlighted(bot):
    question = "How much is a swim for my 70-year-old dad?"
    assert bot.ask(question).citations[0].highlight == "Over-60s swim | £3.60 per visit"
    # The age made the choice: by meaning alone the junior row, which never mentions 70, scores as high.
    assert "Over-60s" not in _without(bot, age_bonus=0.0).answer(question).citations[0].highlight
    assert "8 and over" in bot.ask("My daughter is 10. Can she swim on her own?").citations[0].highlight


def test_two_neighbours_the_evidence_cannot_tell_apart_are_shown_together(bot):
    question = "Can I get a refund on a weekly pass I've already used?"
    shown = bot.ask(question).citations[0].highlight
    assert "never been used" in shown and "cannot be refunded" in shown
    alone = _without(bot, tie_margin=0.0).answer(question).citations[0].highlight
    assert "cannot be refunded" not in alone  # one sentence only, and the wrong one
    assert "Refunds are paid" not in shown  # a third, weaker sentence is not drawn in


def test_a_name_that_only_sets_the_scene_does_not_make_the_answer_not_found(bot):
    a = bot.ask("I'm going to a conference in Lisbon. Whose approval do I need besides my team lead?")
    assert a.outcome != "not found" and "sign-off from one of the partners" in a.citations[0].highlight
    asked = bot.ask("Who approves trips to Lisbon?")  # asked about, the unknown name still counts
    assert asked.signals["unknown_name"] == 1.0
    # "e.g." and "a.m." end no sentence: a name before them is still in the question
    assert bot.ask("Does the pass policy cover Zanzibar, e.g. for refunds?").signals["unknown_name"] == 1.0


def test_a_markdown_heading_is_never_shown_as_part_of_the_answer(bot):
    """"## The dock won't lock my bike." ends with a full stop, but it is a heading: it names the question the
    next paragraph answers, and is neither the answer nor drawn in beside it."""
    shown = bot.ask("I put the bike back but the dock won't take it. What should I do?").citations[0].highlight
    assert "Push the bike firmly" in shown and "##" not in shown and "won't lock" not in shown


BAGGAGE = """# Brightwing Air: baggage FAQ

## Cabin bags

**Q: How much hand luggage can I bring?**

A: Every passenger may bring one small under-seat bag, no larger than 40 x 30 x 15 cm, free of charge.

## Checked bags

**Q: What if my bag is overweight?**

A: Excess weight is charged at £12 per kg. No single bag may weigh more than 32 kg.

**Q: Can I share my baggage allowance with someone else?**

A: Yes. Allowances can be pooled between passengers on the same booking, but no bag may exceed 23 kg.

## Special items

**Q: Can I bring my golf clubs or bike?**

A: Golf bags, bicycles and skis can be carried for £35 per flight if booked 48 hours ahead. Surfboards longer than 2.4 metres cannot be carried.

**Q: My bag arrived damaged. What should I do?**

A: Report it at the baggage desk in the arrivals hall before you leave the airport, and keep your boarding pass.

**Q: Can I bring a pushchair?**

A: Yes. One pushchair per infant is carried free and does not count towards your allowance.

## On board
- No smoking or vaping anywhere on the aircraft
- Hot drinks are served on flights over one hour
"""


@pytest.fixture(scope="module")
def faq_bot(tmp_path_factory, embedder):
    return _bot_over(tmp_path_factory, "faq", {"baggage.md": BAGGAGE, "pool.md": POOL})


def test_an_faq_is_answered_below_its_own_question(faq_bot):
    """"**Q: Can I share my baggage allowance?**" asks, in bold: it is the FAQ's question, never the answer, and
    it says what the paragraph below it answers ("A: Golf bags, bicycles and skis can be carried for £35")."""
    question = "can my wife and i combine our luggage allowance?"
    answer = faq_bot.ask(question)
    assert "pooled" in answer.citations[0].highlight and "Q:" not in answer.citations[0].highlight
    assert "£35 per flight" in faq_bot.ask("how much to bring my bike on the plane").citations[0].highlight
    # The document's own question ("share my baggage allowance") vouches for its answer, which shares no word
    # with "combine our luggage": without it the same sentence is only tentative.
    assert answer.outcome == "answered"
    alone = _without(faq_bot, faq_weight=0.0).answer(question)
    assert "pooled" in alone.citations[0].highlight and alone.outcome == "tentative" and alone.confidence < answer.confidence


def test_a_question_asked_in_two_sentences_is_the_faqs_question_whole(faq_bot):
    """"**Q: My bag arrived damaged. What should I do?**": the statement that opens the FAQ's question is the
    asker's problem, close to theirs in meaning, and answers nothing; the paragraph below it answers."""
    question = "my suitcase came off the plane broken, what now?"
    shown = faq_bot.ask(question).citations[0].highlight
    assert "baggage desk" in shown and "damaged" not in shown
    composer = faq_bot._answerer.composer
    text = "The charger is not working. What should I do?\nMembership is £30 a month. Why not try a free week? Ask us."
    spans = sentence_spans(text)
    infos = [composer._sentence("x", a, text[a:b]) for a, b in spans]
    assert [info.is_question for info in infos] == [False, True, False, True, False]  # each read alone
    # the line that is a statement and a question asks whole; a paragraph that goes on past its question does not
    assert [info.is_question for info in asking_lines(infos, spans, text, 0)] == [True, True, False, True, False]


def test_a_list_item_without_a_full_stop_states_something(faq_bot):
    """"- No smoking or vaping anywhere on the aircraft" ends without a stop, as list items do; it is not a
    heading ("## On board" is), and is shown as the answer."""
    composer = faq_bot._answerer.composer
    assert not composer._sentence("x", 0, "- No smoking or vaping anywhere on the aircraft").is_heading
    assert not composer._sentence("x", 1, "• Two full sets of spare clothes").is_heading
    assert composer._sentence("x", 2, "Special items").is_heading
    assert composer._sentence("x", 3, "**Q: Can I bring a pushchair?**").is_question
    assert "No smoking" in faq_bot.ask("can i vape on the plane").citations[0].highlight


def test_a_price_list_cell_gives_an_age_bracket():
    assert age_ranges("| Under 5 | Free |") == ((0, 4),)
    assert age_ranges("Over 65 | £3.60") == ((65, OPEN),)
    assert age_ranges("| Junior (5–15) | £3.10 |") == ((5, 15),)
    assert age_ranges("| Over 30 minutes | £2 |") == () and age_ranges("| Adult swim | £5.20 |") == ()
    assert asker_ages("im 70 how much is a swim") == {70}


CAMP = """# Hollins Farm campsite: rules for campers

Welcome to Hollins Farm, a family-run campsite beside the river in the Wendle valley. We have 30 grass pitches for tents and campervans. Come to reception in the farmhouse kitchen if you need anything.

## Quiet time

Please keep noise down between 10 pm and 7 am, and do not run generators at any time.

## Dogs

Dogs are welcome but must be kept on a lead at all times, because sheep graze next to the site.
"""


@pytest.fixture(scope="module")
def camp_bot(tmp_path_factory, embedder):
    return _bot_over(tmp_path_factory, "camp", {"camp.md": CAMP, "pool.md": POOL})


def test_the_name_of_the_place_asked_about_does_not_choose_its_sentence(camp_bot):
    """"… at Hollins Farm?" names the document; only its greeting repeats the name, which made the greeting
    the answer to every question naming the farm."""
    composer = camp_bot._answerer.composer
    assert composer.document_names("camp.md") == set(tokenize("Hollins Farm"))  # "Wendle" alone is no run
    assert "rules" not in composer.document_names("camp.md")  # the title is a heading, not a name
    question = "When do we have to be quiet at Hollins Farm?"
    assert "10 pm and 7 am" in camp_bot.ask(question).citations[0].highlight
    answerer = camp_bot._answerer
    # (the title, which holds the name too, left as a sentence like the rest: ``title_is_self`` passes over it)
    unnamed = replace(answerer, composer=Unnamed(answerer.index, replace(answerer.composer.settings, title_is_self=False)))
    assert "10 pm" not in unnamed.answer(question).citations[0].highlight


def test_a_greeting_answers_only_what_it_says(camp_bot):
    assert is_greeting("Welcome to Hollins Farm, a family-run campsite.") and is_greeting("Thank you for choosing us.")
    assert is_greeting("Welcome! This page has everything you need to plan your visit.")
    assert not is_greeting("You are welcome to bring a dog.") and not is_greeting("Welcomed by staff, you sign in.")
    question = "Is there a pub near Hollins Farm?"
    assert not is_greeting(camp_bot.ask(question).citations[0].highlight)
    assert is_greeting(_without(camp_bot, greeting_penalty=0.0).answer(question).citations[0].highlight)
    # the penalty is small: a greeting that says what is asked is still the answer
    assert "beside the river" in camp_bot.ask("Is Hollins Farm near the river?").citations[0].highlight


def test_a_documents_title_is_never_the_answer_nor_hides_its_passage(camp_bot):
    """"# Hollins Farm campsite: rules for campers" names the place, as the question does, and answers nothing
    asked about it: the passage's best other sentence is shown in its place, never stated as the answer, and a
    short page's one passage is not sent after the rest for it, since that sentence may still be the answer."""
    question = "Is there a shop at Hollins Farm?"
    titled = _without(camp_bot, title_is_self=False).answer(question)
    assert titled.outcome == "answered" and titled.citations[0].highlight.startswith("# Hollins Farm campsite")
    answer = camp_bot.ask(question)
    assert answer.outcome != "answered" and not answer.citations[0].highlight.startswith("# Hollins Farm")
    # The title is the campsite passage's closest line; "Come to reception…" answers, tentatively.
    question = "is there somewhere to ask for help at the campsite"
    help_ = camp_bot.ask(question)
    assert help_.outcome == "tentative" and "Come to reception" in help_.citations[0].highlight
    sent_back = _without(camp_bot, title_penalty=1.0).answer(question)
    assert sent_back.citations[0].source == "pool.md"


HIRE = """# Pennock Car Hire: returning your car

## Fuel

Every car leaves the depot with a full tank, and you should return it full. If it comes back with less fuel, we charge for the missing fuel at £2.40 per litre plus a £15 refuelling fee.

## Late returns

Cars are due back by the time shown on your hire agreement. If you are more than an hour late, we charge a further day's hire.

## Smoking

Smoking and vaping are not allowed in any of our cars. Please use the bins at the depot for litter.

## Child seats

We do not fit child seats ourselves. Instead, you can collect one from the desk and fit it before you drive off.
"""


def test_what_happens_if_is_answered_by_the_rule_and_the_case_after_it(tmp_path_factory, embedder):
    """"What happens if…?" asks what follows from a rule, which documents state in the sentence after it ("If it
    comes back with less fuel, we charge…"), while the question's words match the rule: both are shown. So is
    a sentence that goes on from the one shown ("Instead, …")."""
    assert asks_consequence("I'm stuck in traffic. What will happen if the car is late back?")
    assert asks_consequence("what'll happen if i'm late") and asks_consequence("What if it rains?")
    assert asks_consequence("What's going to happen if I miss the bus?")
    assert not asks_consequence("What happened in 2020?") and not asks_consequence("Whatever happens, can I cancel?")
    bot = _bot_over(tmp_path_factory, "hire", {"hire.md": HIRE})
    shown = bot.ask("What happens if I return the car with less than a full tank?").citations[0].highlight
    assert shown.startswith("Every car leaves") and "we charge for the missing fuel" in shown
    late = bot.ask("I'm stuck in traffic. What will happen if the car is late back?").citations[0].highlight
    assert late.startswith("Cars are due back") and "further day's hire" in late
    # asked another way, the rule alone answers; and a next sentence that states no case is not drawn in
    assert bot.ask("When is the car due back?").citations[0].highlight == "Cars are due back by the time shown on your hire agreement."
    assert "bins" not in bot.ask("What happens if someone vapes in the car?").citations[0].highlight
    # a sentence opening with a connective that points back is shown with the one before, whatever is asked
    seat = bot.ask("Will your staff put the child seat in the car for me?").citations[0].highlight
    assert seat.startswith("We do not fit child seats") and "Instead, you can collect one" in seat
