"""Pane-based sliding windows over encoded events; time is always passed in."""
