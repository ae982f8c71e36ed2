"""Run every benchmark: `python -m bench` (or `make bench`). Figures are printed, never asserted."""

from bench import concurrency, drift, ingest, leakage, quality, scoring, splits

for module in (ingest, scoring, concurrency, quality, splits, drift, leakage):
    module.main()
