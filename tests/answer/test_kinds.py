"""What a question asks for, as people ask it, and the sentence that states it (``qa.answer.kinds``)."""
from __future__ import annotations

import pytest

from qa.answer.kinds import asks_for, given_names, negated, states
from qa.bot import Bot

from ..conftest import write_corpus

FARES = """Getting to the airport

Route 99 Airport Express runs every 20 minutes between Central Station and Lakeport Airport. The fare is $5 each way, and it is not included in day passes.
Questions about the route go to Dana Whitfield in the customer team. Buses leave Central Station from 5 a.m. until midnight.
"""


@pytest.mark.parametrize("question,kind", [
    ("How much is the bus to the airport?", "money"),
    ("What does a day of unlimited bike riding cost?", "money"),
    ("I'm 67. Can I get cheaper fares?", None),  # yes or no: no kind of thing asked
    ("Are buses free when I go to vote?", None),  # "when" in a yes/no question asks no time
    ("When will the kids be back from the trip?", "time"),
    ("What's the latest I can turn up for the Saturday swim?", "time"),
    ("How far ahead do I need to book a pickup?", "duration"),
    ("How many adults are going with the children?", "count"),
    ("Where can I get a bike for someone who can't use their legs?", "place"),  # "where" comes first
    ("I'm not happy with the answer. Who else can I go to?", "person"),
    ("What's the phone number of the outdoor centre?", "contact"),
    ("What's the minimum age to ride?", "age"),
    ("Why won't they pay for my sandwich when I'm out for the day?", None),
    ("Who is the practice manager at Willowbank dental?", "name"),  # who holds a post: a person's name
    ("Who's in charge of the trip?", "name"),
    ("Who manages the Castlegate gym?", "name"),
    ("Who runs the school district?", "name"),
    ("Who is Corvell's head of customer relations?", "name"),
    ("Who is responsible for fixing the boiler?", "person"),  # "the landlord" answers it
    ("Who is eligible for a teacher discount?", "person"),
    ("Who is the head office?", "person"),
    ("Who is the Millbrook pool's head lifeguard?", "name"),
    ("Who is the right person to ask about a refund?", "person"),  # "the customer team" answers it  # a board runs it as well as a person
    ("Who should I ask about my expenses?", "person"),  # a role answers this too ("your studio lead")
    ("What is the name of Huawei's AI chip?", "person"),
    ("How much faster than the US is China adding power capacity?", "count"),  # a quantity or a ratio, not a price
    ("By how much has AI shortened the cycle from idea to deployment?", "count"),
    ("How much less compute do the Chinese models need?", "count"),
    ("How much extra is a double room?", "money"),
    ("How much more do I pay for a double room?", "money"),
    ("Who is the Wrenfield councillor in charge of bins?", "name"),
])
def test_the_kind_a_question_asks_for(question, kind):
    assert asks_for(question) == kind


def test_what_a_sentence_states_is_read_broadly():
    assert states("money", "The fare is $5 each way.") and states("money", "Children under 5 ride free.")
    assert not states("money", "Route 99 runs every 20 minutes between Central Station and the airport.")
    assert states("person", "Questions go to Priya Natarajan in the finance team.") and states("person", "Ask your studio lead.")
    assert not states("person", "The pool is open daily.")
    assert states("time", "Return the form by Friday 2 May.") and states("time", "Doors open at 8:15 am.")
    assert not states("time", "The pool has six lanes.")
    assert states("count", "Seven members of staff will go.") and not states("count", "Staff will go.")
    assert states("place", "It stops at Central Station.") and not states("place", "It is open late.")
    # A person's name, not an office's, a team's or a place's
    assert states("name", "The trip will be led by Mr Callum Reid, Year 5 class teacher.")
    assert states("name", "Questions go to Priya Natarajan in the finance team.")
    assert states("name", "The lighthouse was designed by engineer Alasdair Munro.")
    assert not states("name", "Willowbank Dental Practice, 14 Orchard Row, Pennick.")
    assert not states("name", "Write to Parking Services, Thornbury Borough Council, Civic Centre, Wharf Street.")
    assert not states("name", "Call our customer team or visit the Main Library on Cedar Street.")
    assert not states("name", "Ask your studio lead.")
    assert not states("name", "Order it in the My Skylark app.")
    # Names open sentences and follow labels too, in any alphabet; a surname may be a place word
    assert states("name", "Priya Natarajan is our practice manager.") and states("name", "Head dental nurse: Helen Green")
    assert states("name", "The director is Kim Park.") and states("name", "Łukasz Nowak leads the team.")
    assert not states("name", "Book with Outdoor Adventures UK.")
    assert not states("name", "Write to Customer Relations, PO Box 718, Leeds.")  # an address, not a person
    # a museum, a page's title, a street or a station is no one: "Who is the director of Harwick museum?"
    assert not states("name", "# Visiting Harwick City Museum") and not states("name", "Carrow Street House Rules")
    assert not states("name", "Harwick City Museum is on Queen's Parade, a walk from Harwick Central station.")
    assert states("name", "Mark Hall is the manager.")  # a surname that is a building word
    # A name the question gives does not answer it: "Who runs Riverton Wheels?"
    given = given_names("Who runs Riverton Wheels?")
    assert given == {"who", "riverton", "wheels"} and states("name", "Riverton Wheels is run by Ama Owusu.", given)
    assert states("name", "Riverton Wheels has 1,400 bikes.") and not states("name", "Riverton Wheels has 1,400 bikes.", given)
    assert negated("Which towns are not supplied?") and negated("Why doesn't the cafe open?") and not negated("Which towns are supplied?")


def test_the_sentence_stating_the_kind_asked_is_highlighted_and_judged(tmp_path, embedder):
    """Two sentences on the airport bus: the one with the price answers "how much", the one with a name "who"."""
    from dataclasses import replace

    from . import Unnamed

    corpus = write_corpus(tmp_path / "docs", {"fares.md": FARES})
    bot = Bot.load(corpus=corpus, index=tmp_path / "index", on_status=lambda m: None)
    assert "$5 each way" in bot.ask("How much is the bus to the airport?").citations[0].highlight
    # The kind made the choice: without its penalty (nor the neighbour shown beside a near tie, nor "airport" read
    # as part of the document's name, "Lakeport Airport", which every sentence of it shares), meaning and the
    # question's words pick the timetable sentence.
    answerer = bot._answerer
    settings = replace(answerer.composer.settings, kind_penalty=0.0, tie_margin=0.0)
    blind = replace(answerer, composer=Unnamed(answerer.index, settings))
    assert "$5" not in blind.answer("How much is the bus to the airport?").citations[0].highlight
    assert "Dana Whitfield" in bot.ask("Who do I ask about the airport bus?").citations[0].highlight
    # A question for a kind of thing the best sentence does not state is judged less likely answered by it.
    a = bot.ask("What is the phone number for the airport bus?")
    assert a.signals["kind_missing"] == 1.0 and a.outcome != "answered"
    b = bot.ask("How much is the airport bus?")
    assert b.signals["kind_missing"] == 0.0
