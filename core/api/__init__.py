"""The scoring API: the champions served over HTTP on the same ledger as the app and the command line.

- :mod:`~core.api.service`: the FastAPI application and its routes.
- :mod:`~core.api.predict`: a request's rows checked against the input contract and predicted.
- :mod:`~core.api.ledger`: grouped ledger commits (each response waits for its own).
- :mod:`~core.api.champions`: the loaded champions, swapped while the service runs.
- :mod:`~core.api.guard`: API keys, the body limit and request timing.
- :mod:`~core.api.metrics`: ``/metrics`` for Prometheus.
- :mod:`~core.api.server`: ``python -m core serve`` on uvicorn.
"""
