"""Tests of the ``qa.embed`` stage."""
