"""Classroom labs (see README.md).  A package only so that pytest imports
exercises/conftest.py as ``exercises.conftest``, not as a second top-level
``conftest`` that would shadow tests/conftest.py."""
