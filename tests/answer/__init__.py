"""Tests of the ``qa.answer`` stage."""
