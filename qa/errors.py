"""Errors a user can act on: each message names the problem and the fix."""
from __future__ import annotations


class QAError(Exception):
    """Base class: the CLI and UI show ``str(err)`` as one line, no traceback."""


class CorpusError(QAError):
    """The corpus folder is missing, empty or unreadable."""


class BadIndexError(QAError):
    """The persisted index is missing, corrupted or built for other settings."""


class ModelError(QAError):
    """The embedding model cannot be found or loaded."""


class QuestionError(QAError, ValueError):
    """The question is empty or too long (a ``ValueError`` too, for API callers)."""
