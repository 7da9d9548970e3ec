"""Tests of the ``qa.store`` stage."""
