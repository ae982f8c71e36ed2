"""Run every benchmark: `python -m bench` (or `make bench`). Figures are printed, never asserted."""

from bench import scoring

for module in (scoring,):
    module.main()
