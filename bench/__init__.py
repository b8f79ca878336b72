"""Benchmarks (not tests): ``python -m bench`` (full) or ``python -m bench --quick`` runs every row
beside its reference and writes ``bench/results.json``; ``python -m bench.snapshot`` runs one row.
See docs/performance.md."""
