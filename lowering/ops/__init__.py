"""Lowering rules, one module per TTIR op family."""
