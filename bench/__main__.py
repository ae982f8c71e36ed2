"""Run every benchmark: `python -m bench` (or `make bench`). Figures are printed, never asserted."""

from bench import drift, ingest, quality, scoring, splits

for module in (ingest, scoring, quality, splits, drift):
    module.main()
