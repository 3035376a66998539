"""Composition root: daemon lifecycle, scheduling and health."""
