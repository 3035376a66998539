"""Routing of decoded events into windows, and evaluation of windows into results."""
