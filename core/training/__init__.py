"""Model factories, tuning, evaluation: the one place that fits models."""
