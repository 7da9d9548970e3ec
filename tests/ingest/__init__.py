"""Tests of the ``qa.ingest`` stage."""
