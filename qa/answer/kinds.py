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
from qa.store.lexical import NOT_WITHOUT_APOSTROPHE

# The question's side, on its last sentence (a frame before it, "I'm 67.", asks nothing): the kind
# whose pattern matches first in it is the kind asked ("Where can I get a bike for someone who…" asks
# for a place).
# "How much faster…?", "How much more efficient…?", "By how much…?" ask for a quantity or a ratio ("30-50% more
# efficient", "cut by more than half"), not a price.
_MORE = "more|less|fewer|faster|slower|quicker|bigger|smaller|larger|higher|lower|better|worse|further|shorter|heavier|lighter"
_ASKS = (
    ("contact", r"\b(phone|telephone)( number)?\b|\be-?mail( address)?\b|\bextension\b|\bweb ?site\b|\bcontact (details|number)\b"
                r"|\bwhat number (do|should|can) (i|we) (call|ring|phone|text|dial)\b|\bnumber to (call|ring|phone|text|dial)\b"),
    ("age", r"\bhow old\b|\bwhat age\b|\b(minimum|maximum|youngest|oldest) age\b|\bage (limit|restriction)s?\b"),
    ("duration", r"\bhow long\b|\bhow many (minutes|hours|days|nights|weeks|months|years)\b|\bhow much notice\b|\bhow (far|long) (ahead|in advance)\b"),
    ("money", rf"(?<!\bby )\bhow much\b(?!\s+(time|longer|notice|space|room|weight|luggage|data|leave|holiday|sleep|water|power|{_MORE})\b)"
              r"|\bhow much (more|less|extra)\b.{0,60}\b(pay|cost|costs|charge|charged|price|fee|fare)\b"
              r"|\bwhat(?:'s|’s| is| are| was| will| does| do)? (?:the |my |a |an )?(?:\w+ ){0,2}(price|cost|costs|fee|fees|fare|fares|charge|charges|fine|deposit|tuition|rate)\b"
              r"|\bwhat does .{0,60}\b(cost|charge)\b|\b(i|we|you|they) (can |could |may |might )?spend\b|\bplans? to spend\b"),
    ("time", r"^\W*when\b|\bwhen(?:'s|’s| is| are| do| does| did| will| can| should| must| was| would)\b|\bwhat time\b"
             r"|\b(what|which) (day|days|date|month|year|hours)\b|\bdeadline\b|\bhow (late|early|soon)\b"
             r"|\b(latest|earliest|last|first|final|closing) (time|day|date)\b|\bthe (latest|earliest)\b|\bopening (hours|times)\b|\bhow often\b"),
    ("count", rf"\bhow (many|far|fast|warm|cold|hot|big|large|heavy|tall|high|deep|wide)\b|\bwhat temperature\b|\bby how much\b|\bhow much ({_MORE})\b"
              r"|\bwhat (number|percentage|percent|share|proportion|slice)\b|\b(maximum|minimum|the most|the least|total)\b"),
    # who holds a post: answered by a person's name, not by a team's or an office's ("Who is the practice
    # manager?" is not answered by "Willowbank Dental Practice, 14 Orchard Row"), where "who should I ask?"
    # or "who is responsible for repairs?" is answered by a role as well ("your studio lead", "the landlord")
    ("name", r"\bwho(?:'s|’s| is| was| are| were)\s+(?:the|a|an|my|our|your|his|her|its|their|[\w.&-]+['’]s)\s+(?:[\w'’.&-]+\s+){0,2}?"
             r"(manager|director|head(?!\s+office)|chair|chairman|chairwoman|chairperson|president|founder|leader|lead|principal"
             r"|headteacher|headmaster|headmistress|ceo|boss|supervisor|coordinator|officer|author|curator|engineer|architect"
             r"|designer|secretary|treasurer|captain|coach|landlord|landlady|teacher|doctor|dentist|partner|lifeguard|assistant"
             r"|mayor|governor|editor|inspector|instructor|trainer|clerk|receptionist|pharmacist|administrator|superintendent"
             r"|councillor|councilor|warden|caretaker|nurse|midwife|vet|solicitor|accountant|chef)s?\b"
             r"(?!\s+(of|for) (the )?(car|house|home|building|property|fence|land|vehicle)\b)"
             r"|\bwho(?:'s|’s| is| was)\s+in charge\b|\bwho (runs|manages|heads|leads|chairs|founded|wrote|designed)\b"
             r"|\bnames? of (the|your|our|their) (\w+ )?(teachers?|staff|assistants?|members?|managers?|directors?|founders?|heads?|leaders?|partners?|doctors?|people|person)\b"),
    # "who" asking, not "someone who uses a wheelchair"
    ("person", r"^\W*(who|whom|whose)\b|\b(to|with|for|from|by|of) (who|whom)\b|\bwhose\b"
               r"|\bwho(?:'s|’s| is| are| do| does| did| can| could| should| will| would| was| runs| decides| pays)\b|\bwhich (\w+ )?(person|member|teacher|staff|department|team|company|firm|office)\b|\bnames? of\b"),
    ("place", r"\bwhere\b|\bwhich (room|building|floor|station|entrance|address|stop|branch)\b"),
)
# The last word of an organisation's or a place's name ("Thornbury Borough Council", "Civic Centre"): a run
# of capitalised words ending in one names no person. Words that are also common surnames (Hall, Green, Park,
# Hill, Lane, West…) are left out: "Helen Green" names a person.
_NOT_PEOPLE = frozenset("""
practice council borough county services service department team relations centre center library libraries school
college university hospital clinic surgery office trust club fitness gym leisure pool transit transport authority
direct ltd limited inc plc llc co company corporation group bank insurance appliances controls association society
committee board partnership foundation institute agency ministry government street st road rd row avenue ave way
parkway drive square place station airport terminal estate campus card pass scheme plan policy app portal
suite unit floor building museum museums gallery galleries theatre theater cinema cathedral gardens
zoo market shop store cafe café restaurant hotel inn pub stadium arena academy nursery parade crescent terrace quay wharf
central
rules terms conditions guide handbook faq faqs information prices charges
holiday holidays day days month week year
""".split())
# Capitalised words that open a run without being part of a name ("The Customer Service Center", "Ask Priya Natarajan")
_RUN_OPENERS = frozenset("a an the my our your his her its their this that these those ask contact call email write see speak po".split())
_TITLE = re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Dame)\b\.?\s+[A-Z][a-z]")
_WORD_AT = re.compile(r"[^\W\d_][\w'’-]*")


def _is_name(run: list[str], given: frozenset[str]) -> bool:
    words = [w.lower() for w in run]
    while words and words[0] in _RUN_OPENERS:
        words = words[1:]
    return (2 <= len(words) <= 4 and words[-1] not in _NOT_PEOPLE and not run[-1].isupper()
            and not given.issuperset(words))


def names_person(text: str, given: frozenset[str] = frozenset()) -> bool:
    """``text`` names a person: a title and a name ("Mr Callum Reid", "Dr. Fenella Marsh"), or a run of two
    to four capitalised words, in any alphabet, whose last is not an organisation's or a place's ("Priya
    Natarajan is our practice manager", "Practice manager: Helen Green"; not "Thornbury Borough Council",
    "Civic Centre" nor "Outdoor Adventures UK"). Broad on purpose, as the other kinds are. A name the
    question ``given`` itself (lower-cased words) is not an answer: "Who runs Riverton Wheels?" is not
    answered by "Riverton Wheels has 1,400 bikes"."""
    if _TITLE.search(text):
        return True
    run: list[str] = []
    end = 0
    for m in _WORD_AT.finditer(text):
        word = m.group(0)
        if word[0].isupper() and run and text[end:m.start()].isspace():
            run.append(word)
        else:
            if _is_name(run, given):
                return True
            run = [word] if word[0].isupper() else []
        end = m.end()
    return _is_name(run, given)


# A question that opens with an auxiliary ("Are buses free when I go to vote?") asks yes or no, and one
# that asks why or what to do asks for an explanation: neither asks for a kind of thing.
_NO_KIND = re.compile(r"^\W*((is|are|was|were|am|do|does|did|can|could|will|would|should|shall|may|might|must|have|has|had|wo)(n['’]t)?\b"
                      r"|why\b|what happens\b|what (should|do|can|must) (i|we|you) do\b|how (do|can|should|would|could) )", re.I)
_ASKS_RE = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _ASKS)

# The sentence's side: the words that tell each kind, and the few patterns words cannot (a price, a clock
# time, a name). Broad on purpose (see above). Words are looked up in a set: one regular expression per
# kind cost 25 µs a sentence.
_WORDS = {
    "contact": "call phone ring email text contact ext extension",
    "age": "age aged ages adult adults child children kid kids junior juniors senior seniors infant infants baby babies toddler"
           " toddlers student students pensioner pensioners minor minors",
    "duration": "overnight until immediately",
    "money": "free price priced prices fare fares fee fees charge charges charged cost costs paid pay payable rate rates",
    "time": "noon midday midnight monday mondays tuesday tuesdays wednesday wednesdays thursday thursdays friday fridays saturday"
            " saturdays sunday sundays weekend weekends weekday weekdays jan january feb february mar march apr april may jun june"
            " jul july aug august sep sept september oct october nov november dec december daily weekly monthly yearly annually"
            " hourly every each tomorrow today tonight morning evening afternoon night holiday holidays christmas easter term season"
            " spring summer autumn fall winter until within immediately soon once twice always never anytime later earlier advance"
            " deadline date hours",
    "count": "once twice every each all none unlimited single no most",
    "person": "manager director lead leader head officer partner partners team staff department desk support reception receptionist"
              " teacher coordinator administrator admin landlord supervisor chair secretary clerk nurse doctor engineer technician"
              " agent adviser advisor representative committee board council helpline hotline lifeguard instructor inspector driver"
              " owner provider company firm operator contractor employer colleague parent guardian tenant member volunteer you yourself",
    "place": "road street avenue lane square room floor building station entrance exit reception desk office counter website online"
             " app portal locker parking dock stop centre center library hall area box door gate shop store branch site",
}
_UNITS = ("second minute min hour hr day night week fortnight month year yr term semester").split()
_KIND_WORDS = {kind: frozenset(words.split()) | ({u + s for u in _UNITS for s in ("", "s")} if kind in ("duration", "time") else frozenset())
               for kind, words in _WORDS.items()}
_PREFIXES = {"money": ("refund", "reimburs", "discount"), "age": ("teen",)}
_PATTERNS = {
    "contact": re.compile(r"\d{3,}[\s-]?\d{3,}|\b\d{4,}\b|@|\bwww\.|\.(com|org|net|gov|uk)\b|\be-mail\b", re.I),
    "age": re.compile(r"years? old|-year-olds?|\b(under|over|at least|below|above|from)\s+\d|\d+\s*(and|or) (over|older|under|above|younger)", re.I),
    "duration": re.compile(r"\bat once\b|\bstraight away\b", re.I),
    "money": re.compile(r"[£$€¥]\s?\d|\d\s?(p|pence|cents?|dollars?|pounds?|euros?|usd|gbp|eur)\b|\bno (charge|cost|fee)\b", re.I),
    "time": re.compile(r"\d{1,2}([:.]\d\d)?\s*[ap]\.?m\b|\b\d{1,2}[:.]\d\d\b|o['’]clock|\b(1[5-9]|20)\d\d\b|\b\d{1,2}(st|nd|rd|th)\b", re.I),
    "count": re.compile(r"\b(at most|up to|any number)\b", re.I),
    # a title and a name, or two capitalised words not opening the sentence ("Priya Natarajan")
    "person": re.compile(r"\b(Mr|Mrs|Ms|Miss|Dr|Prof)\b\.?\s+[A-Z]|(?<!^)(?<![.!?]\s)\b[A-ZÀ-ÖØ-Þ][\w'’-]+\s+[A-ZÀ-ÖØ-Þ][\w'’-]+"),
    # a preposition before a name ("at Central Station")
    "place": re.compile(r"(?i:\b(at|in|on|near|next to|opposite|behind|inside|outside|beside|from|to|via)\s+(the\s+)?)[A-Z]|(?i:\bcar park\b)"),
}
_WORD = re.compile(r"[a-z]+")
_LAST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"“‘('A-Z0-9])")  # not inside "e.g. for" or "9 a.m. to 5"


def asking_sentence(question: str) -> str:
    """The sentence that asks: the last one ending in "?" ("How much is it for my dad? He is 70." asks the
    first), else the last. What comes before it is a frame ("I'm going to a conference in Lisbon.")."""
    pieces = _LAST_SENTENCE.split(question.strip())
    return next((p for p in reversed(pieces) if p.rstrip().endswith("?")), pieces[-1])


# "What happens if I bring the car back without filling it up?" asks what follows from a rule, which documents
# state in the sentence after the rule: "You should bring it back full. If it comes back with less fuel, we charge…"
_CONSEQUENCE = re.compile(r"\bwhat(?: happens| (?:will|would|could|should|can) happen|['’]ll happen|(?: is|['’]s) going to happen"
                         r"| if)\b", re.I)


def asks_consequence(question: str) -> bool:
    """The asking sentence asks what happens (if …): "What if my dog gets too stressed halfway through?"."""
    return bool(_CONSEQUENCE.search(asking_sentence(question)))


def given_names(question: str) -> frozenset[str]:
    """The capitalised words of ``question``, lower-cased: a name it gives is not the name it asks for
    (``names_person``)."""
    return frozenset(w.lower() for w in _WORD_AT.findall(question) if w[0].isupper())


def asks_for(question: str) -> str | None:
    """The kind of thing the question's last sentence asks for, or None (a yes/no question, a "why", a
    "what happens if"…): "How much is a swim for my 70-year-old dad?" asks for money."""
    last = asking_sentence(question)
    if _NO_KIND.match(last):
        return None
    found = [(m.start(), n, kind) for n, (kind, pattern) in enumerate(_ASKS_RE) for m in [pattern.search(last)] if m]
    return min(found)[2] if found else None


@lru_cache(maxsize=65_536)
def states(kind: str, text: str, given: frozenset[str] = frozenset()) -> bool:
    """``text`` states something of ``kind`` (a price, a time, a person…); broad, so a miss is telling.
    A "name" is not one of the names ``given`` by the question (``given_names``)."""
    words = set(_WORD.findall(text.lower()))
    if not words.isdisjoint(_KIND_WORDS.get(kind, ())) or any(w.startswith(_PREFIXES.get(kind, ("\0",))) for w in words):
        return True
    if kind == "count" and numbers_in(text):
        return True
    if kind == "name":
        return names_person(text, given)
    pattern = _PATTERNS.get(kind)
    return pattern is not None and bool(pattern.search(text))


_NEGATION_WORDS = frozenset("not no never none nobody nothing neither nor without cannot unless except excluding".split()
                           ) | NOT_WITHOUT_APOSTROPHE


def negated(text: str) -> bool:
    """``text`` says no, not, never…: "Which towns are not supplied?" is answered by a sentence that says
    some are not, not by one listing those that are."""
    lower = text.lower()
    return "n't" in lower or "n’t" in lower or not _NEGATION_WORDS.isdisjoint(_WORD.findall(lower))
