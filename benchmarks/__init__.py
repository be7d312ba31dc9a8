"""Benchmarks: each ``bench_*.py`` module measures windmaker against a reference in the same run."""
