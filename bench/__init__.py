"""Benchmarks: comparisons run side by side on this machine, never tests."""
