"""What kind of thing a question asks for (a price, a time, a person, a place…), and whether a sentence
states something of that kind.

People ask "How much is the bus to the airport?" and the passage holds two sentences on the airport
bus: "Route 99 runs every 20 minutes…" and "The fare is $5 each way." Meaning alone scores them
alike; only the second states a price. So the highlight prefers a sentence that states the kind of
thing asked, and a best sentence that states none ("Who is the general manager?" answered by a
sentence naming nobody) lowers the confidence that it answers. The patterns are deliberately broad
on the sentence's side: wrongly saying a sentence lacks the kind costs a right answer, while wrongly
saying it has it only leaves the score as it was.
"""
from __future__ import annotations

import re
from functools import lru_cache

from qa.answer.evidence import numbers_in

# The question's side, on its last sentence (a frame before it, "I'm 67.", asks nothing): the kind
# whose pattern matches first in it is the kind asked ("Where can I get a bike for someone who…" asks
# for a place).
_ASKS = (
    ("contact", r"\b(phone|telephone)( number)?\b|\be-?mail( address)?\b|\bextension\b|\bweb ?site\b|\bcontact (details|number)\b"
                r"|\bwhat number (do|should|can) (i|we) (call|ring|phone|text|dial)\b|\bnumber to (call|ring|phone|text|dial)\b"),
    ("age", r"\bhow old\b|\bwhat age\b|\b(minimum|maximum|youngest|oldest) age\b|\bage (limit|restriction)s?\b"),
    ("duration", r"\bhow long\b|\bhow many (minutes|hours|days|nights|weeks|months|years)\b|\bhow much notice\b|\bhow (far|long) (ahead|in advance)\b"),
    ("money", r"\bhow much\b(?!\s+(time|longer|notice|space|room|weight|luggage|data|leave|holiday|sleep|water|power))"
              r"|\bwhat(?:'s|’s| is| are| was| will| does| do)? (?:the |my |a |an )?(?:\w+ ){0,2}(price|cost|costs|fee|fees|fare|fares|charge|charges|fine|deposit|tuition|rate)\b"
              r"|\bwhat does .{0,60}\b(cost|charge)\b|\b(i|we|you|they) (can |could |may |might )?spend\b|\bplans? to spend\b"),
    ("time", r"^\W*when\b|\bwhen(?:'s|’s| is| are| do| does| did| will| can| should| must| was| would)\b|\bwhat time\b"
             r"|\b(what|which) (day|days|date|month|year|hours)\b|\bdeadline\b|\bhow (late|early|soon)\b"
             r"|\b(latest|earliest|last|first|final|closing) (time|day|date)\b|\bthe (latest|earliest)\b|\bopening (hours|times)\b|\bhow often\b"),
    ("count", r"\bhow (many|far|fast|warm|cold|hot|big|large|heavy|tall|high|deep|wide)\b|\bwhat temperature\b"
              r"|\bwhat (number|percentage|percent|share|proportion|slice)\b|\b(maximum|minimum|the most|the least|total)\b"),
    ("person", r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (\w+ )?(person|member|teacher|staff|department|team|company|firm|office)\b|\bnames? of\b"),
    ("place", r"\bwhere\b|\bwhich (room|building|floor|station|entrance|address|stop|branch)\b"),
)
# A question that opens with an auxiliary ("Are buses free when I go to vote?") asks yes or no, and one
# that asks why or what to do asks for an explanation: neither asks for a kind of thing.
_NO_KIND = re.compile(r"^\W*((is|are|was|were|am|do|does|did|can|could|will|would|should|shall|may|might|must|have|has|had)(n't)?\b"
                      r"|why\b|what happens\b|what (should|do|can|must) (i|we|you) do\b|how (do|can|should|would|could) )", re.I)
_ASKS_RE = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _ASKS)

_MONTHS = r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t|tember)?|oct(ober)?|nov(ember)?|dec(ember)?"
_UNITS = r"(second|minute|min|hour|hr|day|night|week|fortnight|month|year|yr|term|semester)s?"
_ROLES = (r"manager|director|lead|leader|head|officer|partner|partners|team|staff|department|desk|support|reception|receptionist"
          r"|teacher|coordinator|administrator|admin|landlord|supervisor|chair|secretary|clerk|nurse|doctor|engineer|technician"
          r"|agent|adviser|advisor|representative|committee|board|council|helpline|hotline|lifeguard|instructor|inspector|driver"
          r"|owner|provider|company|firm|operator|contractor|employer|colleague|parent|guardian|tenant|member|volunteer|you|yourself")
_PLACES = (r"road|street|avenue|lane|square|room|floor|building|station|entrance|exit|reception|desk|office|counter|website|online"
           r"|app|portal|locker|car park|parking|dock|stop|centre|center|library|hall|area|box|door|gate|shop|store|branch|site")
# The sentence's side: does it state something of that kind? Broad on purpose (see above).
_STATES = {
    "contact": re.compile(r"\d{3,}[\s-]?\d{3,}|\b\d{4,}\b|@|\bwww\.|\.(com|org|net|gov|uk)\b|\bext(ension)?\b\.?|\b(call|phone|ring|email|e-mail|text|contact)\b", re.I),
    "age": re.compile(r"\bage[ds]?\b|\byears? old\b|-year-olds?\b|\b(under|over|at least|below|above|from)\s+\d|\d+\s*(and|or) (over|older|under|above|younger)"
                      r"|\b(adults?|child|children|kids?|juniors?|seniors?|teen\w*|infants?|bab(y|ies)|toddlers?|students?|pensioners?|minors?|under-\d+s?)\b", re.I),
    "duration": re.compile(rf"\b(\d[\d.,]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|half an?|several|few)[\s-]+{_UNITS}\b"
                           rf"|\b{_UNITS}\b|\bovernight\b|\buntil\b|\bimmediately\b|\bat once\b|\bstraight away\b", re.I),
    "money": re.compile(r"[£$€¥]\s?\d|\d\s?(p|pence|cents?|dollars?|pounds?|euros?|usd|gbp|eur)\b|\bfree\b|\bno (charge|cost|fee)\b"
                        r"|\b(price[ds]?|fares?|fees?|charge[ds]?|costs?|refund\w*|reimburs\w*|rates?|paid|pay|payable|discount\w*|half-price)\b", re.I),
    "time": re.compile(rf"\b\d{{1,2}}([:.]\d\d)?\s*(a\.?m\b\.?|p\.?m\b\.?)|\b\d{{1,2}}[:.]\d\d\b|\bnoon\b|\bmidday\b|\bmidnight\b|\bo'clock\b"
                       rf"|\b(mon|tues|wednes|thurs|fri|satur|sun)days?\b|\bweek(end|day)s?\b|\b({_MONTHS})\b\.?|\b(1[5-9]|20)\d\d\b|\b\d{{1,2}}(st|nd|rd|th)\b"
                       rf"|\b(daily|weekly|monthly|yearly|annually|hourly|every|each|tomorrow|today|tonight|morning|evening|afternoon|night"
                       rf"|holidays?|christmas|easter|term|season|spring|summer|autumn|fall|winter|until|within|immediately"
                       rf"|soon|once|twice|always|never|anytime|later|earlier|advance|deadline|date|hours)\b|\b{_UNITS}\b", re.I),
    "count": None,  # any quantity (``numbers_in``), or a word that bounds one
    # a title and a name, two capitalised words not opening the sentence ("Priya Natarajan"), or a role
    "person": re.compile(rf"\b(Mr|Mrs|Ms|Miss|Dr|Prof)\b\.?\s+[A-Z]|(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+\s+[A-Z][a-z]+|(?i:\b({_ROLES})\b)"),
    # a preposition before a name ("at Central Station"), or a kind of place
    "place": re.compile(rf"(?i:\b(at|in|on|near|next to|opposite|behind|inside|outside|beside|from|to|via)\s+(the\s+)?)[A-Z]|(?i:\b({_PLACES})\b)"),
}
_COUNT_WORDS = re.compile(r"\b(once|twice|every|each|all|none|no more than|at most|up to|unlimited|any number|single|only one|no)\b", re.I)
_LAST_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def asks_for(question: str) -> str | None:
    """The kind of thing the question's last sentence asks for, or None (a yes/no question, a "why", a
    "what happens if"…): "How much is a swim for my 70-year-old dad?" asks for money."""
    last = _LAST_SENTENCE.split(question.strip())[-1]
    if _NO_KIND.match(last):
        return None
    found = [(m.start(), n, kind) for n, (kind, pattern) in enumerate(_ASKS_RE) for m in [pattern.search(last)] if m]
    return min(found)[2] if found else None


@lru_cache(maxsize=65_536)
def states(kind: str, text: str) -> bool:
    """``text`` states something of ``kind`` (a price, a time, a person…); broad, so a miss is telling."""
    if kind == "count":
        return bool(numbers_in(text)) or bool(_COUNT_WORDS.search(text))
    pattern = _STATES.get(kind)
    if pattern is None:
        return True
    return bool(pattern.search(text))


_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|unless|except|excluding)\b|n't\b|n’t\b", re.I)


def negated(text: str) -> bool:
    """``text`` says no, not, never…: "Which towns are not supplied?" is answered by a sentence that says
    some are not, not by one listing those that are."""
    return bool(_NEGATION.search(text))
