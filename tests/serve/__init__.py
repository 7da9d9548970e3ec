"""Tests of the ``qa.serve`` stage."""
