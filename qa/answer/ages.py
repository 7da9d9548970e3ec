"""The asker's age, and the sentences whose age condition it meets.

People say who they are asking for ("I'm 67. Can I get cheaper fares?", "How much is a swim for my
70-year-old dad?", "My son is 14. Can he ride?"), and documents answer with age ranges that share
no words with the question: "riders aged 65 and over", "Over-60s swim | £3.60", "Riders must be at
least 16 years old." Meaning alone scores "Junior swim, ages 3 to 15" as high as the over-60s row.
So a sentence whose age range holds the asker's age is the likelier answer, and for a yes/no question
one whose range leaves it out answers too ("no: at least 16").
"""
from __future__ import annotations

import re
from functools import lru_cache

OPEN = 200  # the top of an open range ("65 and over")
# A whole number of up to three digits, not part of a decimal or a larger figure ("1.2m", "1,000", "£3.60").
_N = r"(?<![\d.,])(\d{1,3})(?![.,]?\d)"
# Units that make a number something else than an age ("10 min", "5 dollars", "2 hrs", "3 nights"), as whole words.
_UNIT = (r"(?:%|percent|per\s*cent|p|pence|pounds?|quid|dollars?|euros?|cents?|usd|gbp|eur|min|mins|minutes?|secs?|"
         r"seconds?|hrs?|hours?|days?|nights?|weeks?|months?|ft|feet|foot|inch(?:es)?|yards?|miles?|metres?|meters?|"
         r"m|km|kg|lbs?|mph|kph|gb|mb|stops?|times?|of)\b")
_NOT_AGE = rf"(?!\s*{_UNIT})"
# The question's side: "I'm 67", "my 70-year-old dad", "my 14yo", "my son is 14", "aged 6", "I turn 18 today".
_ASKER = re.compile(
    rf"{_N}[- ]?(?:years?|yrs?)[- ]?olds?\b|{_N}\s?(?:yo|y/o|y\.o\.?)(?!\w)"
    rf"|\b(?:i['’]?m|i am|(?:he|she|they)['’]s|(?:he|she) is|(?:son|daughter|child|kid|boy|girl|dad|mum|mom|father|mother|"
    rf"grandad|granddad|grandma|grandpa|grandmother|grandfather|wife|husband|partner|friend|friends) (?:is|are)|turned|turns|"
    rf"turn|turning|aged?)\s+(?:also\s+)?{_N}(?:\s+years?(?:\s+old)?)?{_NOT_AGE}",
    re.I)
_PEOPLE = (r"(?:children|child|kids?|people|persons?|riders?|passengers?|anyone|those|adults?|students?|pupils?|babies|"
           r"toddlers?|teenagers?|teens?|visitors|swimmers|users|members|customers|guests|applicants|drivers|players|juniors?|"
           r"seniors?|infants?|youths?|ages?|aged)")
_OLD = r"(?:years?[- ]?olds?|years? of age|yrs? old)"
# The sentence's side, each pattern with how its numbers make a range. Every one needs an age word ("aged",
# "years old") or a word for people next to the number: "Loans of 5 to 10 years" and "orders of 50 or under"
# are not ages.
_RANGES = (
    (re.compile(rf"\b(?:aged?|ages)\s+(?:between\s+|from\s+)?{_N}\s*(?:to|-|–|and)\s*{_N}", re.I), "between"),
    (re.compile(rf"{_N}\s*(?:to|-|–)\s*{_N}[- ]?{_OLD}", re.I), "between"),
    (re.compile(rf"\b{_PEOPLE}\s*\(?\s*(?:between\s+)?{_N}\s*(?:to|-|–|and)\s*{_N}\s*\)?{_NOT_AGE}", re.I), "between"),
    (re.compile(rf"\b(?:aged?|ages|{_PEOPLE})\s+{_N}\s*(?:\+|(?:years?\s+)?(?:and|or)\s+(?:over|older|above|up))", re.I), "from"),
    (re.compile(rf"{_N}\s*{_OLD}\s+(?:and|or)\s+(?:over|older|above|up)", re.I), "from"),
    (re.compile(rf"\b(?:at least|over|above|older than)\s+{_N}\s*{_OLD}", re.I), "from"),
    (re.compile(rf"\b(?:aged?|{_PEOPLE})\s+(?:aged\s+)?(?:over|above|older than)\s+{_N}{_NOT_AGE}", re.I), "over"),
    (re.compile(rf"\bover[- ]{_N}s\b", re.I), "from"),
    (re.compile(rf"\b(?:under|below|younger than)\s+{_N}\s*{_OLD}", re.I), "under"),
    (re.compile(rf"\b(?:aged?|{_PEOPLE})\s+(?:aged\s+)?(?:under|below|younger than)\s+{_N}{_NOT_AGE}", re.I), "under"),
    (re.compile(rf"\bunder[- ]{_N}s\b", re.I), "under"),
    (re.compile(rf"{_N}\s*{_OLD}\s+(?:and|or)\s+(?:under|younger|below)", re.I), "upto"),
    # A price list's first cell is the ticket: "| Under 5 | Free |", "Over 65 | £3.60". In a table a cell
    # that is only "under/over N" is an age bracket (a duration or a measure brings its unit, ruled out).
    (re.compile(rf"(?:^|\|)[ \t]*(?:under|below)\s+{_N}{_NOT_AGE}[ \t]*(?=\|)", re.I | re.M), "under"),
    (re.compile(rf"(?:^|\|)[ \t]*(?:over|above)\s+{_N}{_NOT_AGE}[ \t]*(?=\|)", re.I | re.M), "from"),
    (re.compile(rf"\b(?:aged?|{_PEOPLE})\s+{_N}\s+(?:and|or)\s+(?:under|younger|below)", re.I), "upto"),
)


def asker_ages(question: str) -> frozenset[int]:
    """The ages the question gives for whom it asks: "I'm 67." → {67}; "my 6-year-old and her friends, who are also 6" → {6}."""
    return frozenset(int(n) for m in _ASKER.finditer(question) for n in m.groups() if n and 0 < int(n) < 120)


@lru_cache(maxsize=65_536)
def age_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """The age ranges ``text`` states, inclusive: "aged 5 to 18" (5, 18), "65 and over" (65, OPEN), "under 8" (0, 7)."""
    found = []
    for pattern, how in _RANGES:
        for m in pattern.finditer(text):
            a = int(m.group(1))
            if how == "between":
                b = int(m.group(2))
                found.append((min(a, b), max(a, b)))
            else:
                found.append({"from": (a, OPEN), "over": (a + 1, OPEN), "under": (0, a - 1), "upto": (0, a)}[how])
    return tuple(dict.fromkeys(found))  # two patterns may read the same words


def age_fit(ages: frozenset[int], text: str) -> int:
    """1 when a range ``text`` states holds one of ``ages``, -1 when it states ranges that hold none, 0 when it states none."""
    ranges = age_ranges(text) if ages else ()
    if not ranges:
        return 0
    return 1 if any(lo <= age <= hi for age in ages for lo, hi in ranges) else -1
