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
_N = r"(\d{1,3})"
_NOT_AGE = r"(?!\s*(?:%|percent|p\b|pence|pounds?|dollars?|euros?|cents?|[a-z]*(?:minute|hour|day|week|month|mile|metre|meter|km|kg|lb)))"
# The question's side: "I'm 67", "my 70-year-old dad", "my son is 14", "aged 6".
_ASKER = re.compile(
    rf"\b{_N}[- ]?(?:years?|yrs?)[- ]?olds?\b"
    rf"|\b(?:i['’]m|i am|(?:he|she|they)['’]s|(?:he|she) is|(?:son|daughter|child|kid|boy|girl|dad|mum|mom|father|mother|"
    rf"grandad|granddad|grandma|grandpa|grandmother|grandfather|wife|husband|partner|friend|friends) (?:is|are)|turned|turns|aged?)"
    rf"\s+(?:also\s+)?{_N}\b(?:\s+years?(?:\s+old)?)?{_NOT_AGE}",
    re.I)
_PEOPLE = (r"(?:children|child|kids?|people|persons?|riders?|passengers?|anyone|those|adults?|students?|pupils?|babies|"
           r"toddlers|teenagers|teens|visitors|swimmers|users|members|customers|guests|applicants|drivers|players|juniors|seniors)")
# The sentence's side, each pattern with how its numbers make a range.
_RANGES = (
    (re.compile(rf"\b(?:aged?|ages)\s+(?:between\s+|from\s+)?{_N}\s*(?:to|-|–|and)\s*{_N}\b", re.I), "between"),
    (re.compile(rf"\b{_N}\s*(?:to|-|–)\s*{_N}[- ]?(?:years?[- ]?olds?|years? of age|years?\b)", re.I), "between"),
    (re.compile(rf"\b(?:aged?|ages)\s+{_N}\s*(?:\+|(?:years?\s+)?(?:and|or)\s+(?:over|older|above|up))", re.I), "from"),
    (re.compile(rf"\b{_N}\s*(?:years?[- ]?olds?|years? of age|years?)\s+(?:and|or)\s+(?:over|older|above|up)", re.I), "from"),
    (re.compile(rf"\b(?:aged?\s+)?(?:at least|over|above|older than)\s+{_N}\s*(?:years?[- ]?old|years? of age)", re.I), "from"),
    (re.compile(rf"\b(?:aged?|{_PEOPLE})\s+(?:aged\s+)?(?:over|above|older than)\s+{_N}\b{_NOT_AGE}", re.I), "over"),
    (re.compile(rf"\bover[- ]{_N}s\b", re.I), "from"),
    (re.compile(rf"\b(?:aged?\s+)?(?:under|below|younger than)\s+{_N}\s*(?:years?[- ]?old|years? of age)", re.I), "under"),
    (re.compile(rf"\b(?:aged?|{_PEOPLE})\s+(?:aged\s+)?(?:under|below|younger than)\s+{_N}\b{_NOT_AGE}", re.I), "under"),
    (re.compile(rf"\bunder[- ]{_N}s\b", re.I), "under"),
    (re.compile(rf"\b{_N}\s*(?:years?[- ]?olds?|years? of age)?\s+(?:and|or)\s+(?:under|younger|below)", re.I), "upto"),
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
            b = int(m.group(2)) if how == "between" else None
            found.append({"between": (a, b), "from": (a, OPEN), "over": (a + 1, OPEN), "under": (0, a - 1), "upto": (0, a)}[how])
    return tuple(found)


def age_fit(ages: frozenset[int], text: str) -> int:
    """1 when a range ``text`` states holds one of ``ages``, -1 when it states ranges that hold none, 0 when it states none."""
    ranges = age_ranges(text) if ages else ()
    if not ranges:
        return 0
    return 1 if any(lo <= age <= hi for age in ages for lo, hi in ranges) else -1
