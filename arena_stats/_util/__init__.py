"""Plumbing with no statistics in it: progress bars, threads, atomic file writes."""
