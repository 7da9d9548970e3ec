"""What a reply says in words when it does not simply state the answer: a tentative answer shows its best
candidate as such, "not found" says what is missing. Kept apart from ``compose``, which decides the
outcome, so the wording can be read (and changed) in one place."""
from __future__ import annotations

from typing import Sequence

from qa.types import Citation


def not_found_text(reason: str, n: int = 0) -> str:
    """What "not found" says: what is missing, never that no document answers (it may, in other words)."""
    closest = f" The {n} closest passage{'s are' if n > 1 else ' is'} listed below, in case one helps." if n else ""
    return f"Not found in the documents. {reason}{closest}"


def tentative_text(reason: str, first: Citation, more: Sequence[Citation] = ()) -> str:
    """The best candidate, stated as such: the user sees it, and sees that it may not be the answer; then
    the next closest, when nearly as good (``Composer.nearly_as_good``)."""
    why = reason if reason and "may not answer" not in reason else "The documents may not answer this exactly."
    nexts = "".join(f" Next closest: {c.highlight} [{c.number}]" for c in more)
    return f"{why} The closest they come is: {first.highlight} [1]{nexts}"
