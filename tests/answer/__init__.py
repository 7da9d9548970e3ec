"""Tests of the ``qa.answer`` stage."""
from __future__ import annotations

from qa.answer.compose import Composer


class Unnamed(Composer):
    """A Composer that reads no document's opening names (``Composer.document_names``): a question's words that
    name a document then weigh in choosing among its sentences, as before that rule."""

    def document_names(self, source: str) -> frozenset[str]:
        return frozenset()
