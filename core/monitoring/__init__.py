"""Monitoring: drift of inputs, quality of predictions over time, an accuracy estimate, alerts.

- :mod:`~core.monitoring.reference`: what a model version was trained and judged on.
- :mod:`~core.monitoring.ledger`: windows of the prediction ledger and their inputs.
- :mod:`~core.monitoring.drift`: per-feature drift with Evidently (the only module importing it).
- :mod:`~core.monitoring.windows`: drift over time, stored per window.
- :mod:`~core.monitoring.estimate`: accuracy expected from calibrated probabilities.
- :mod:`~core.monitoring.quality`: accuracy and F1 from labelled feedback.
- :mod:`~core.monitoring.alerts`: thresholds crossed, stored and acknowledged.

Nothing here imports Evidently at import time.
"""
