"""Helpers that start and drive real components for the tests."""
