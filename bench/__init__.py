"""Benchmarks for Parley (run them from the repository root, see bench/fanout.py)."""
