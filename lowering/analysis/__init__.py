"""Analyses over lowered values; they describe structure and emit only index math."""
