"""Monitoring: drift of inputs, quality of predictions over time, an accuracy estimate, alerts and their delivery.

- :mod:`~core.monitoring.reference`: what a model version was trained and judged on, and its stored
  reference profile (:mod:`~core.monitoring.profile`: what the training data looks like to each test).
- :mod:`~core.monitoring.ledger`: windows of the prediction ledger and their inputs.
- :mod:`~core.monitoring.drift`: per-feature drift (:mod:`~core.monitoring.plans` chooses each test,
  :mod:`~core.monitoring.stattests` computes Evidently's from the profile; Evidently itself, the only
  module importing it, for other methods, text and the full report).
- :mod:`~core.monitoring.sampling`: the seeded sample a window over ``SIFT_DRIFT_MAX_ROWS`` is measured on.
- :mod:`~core.monitoring.windows`: drift over time, stored per window.
- :mod:`~core.monitoring.estimate`: accuracy expected from calibrated probabilities.
- :mod:`~core.monitoring.quality`: accuracy and F1 from labelled feedback.
- :mod:`~core.monitoring.alerts`: thresholds crossed, stored and acknowledged.
- :mod:`~core.monitoring.destinations`, :mod:`~core.monitoring.messages`, :mod:`~core.monitoring.digest`,
  :mod:`~core.monitoring.delivery`: where alerts go, what they say, digests, and sending each once.
- :mod:`~core.monitoring.schedule`: the monitor run (after scoring, on a schedule, on demand).
- :mod:`~core.monitoring.figures`: the figures the API's Prometheus gauges read.

Nothing here imports Evidently at import time.
"""
