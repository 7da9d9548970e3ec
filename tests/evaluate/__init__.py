"""Tests of the ``qa.evaluate`` stage."""
