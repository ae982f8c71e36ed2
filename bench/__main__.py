"""Run every benchmark: `python -m bench` (or `make bench`). Figures are printed, never asserted."""

from bench import concurrency, drift, ingest, leakage, quality, scoring, serve, splits

for module in (ingest, scoring, serve, concurrency, quality, splits, drift, leakage):
    module.main()
