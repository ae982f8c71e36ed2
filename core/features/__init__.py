"""Preprocessing: one ColumnTransformer branch per column role."""

from core.features.preprocess import build_preprocessor, coerce_inputs, feature_columns

__all__ = ["build_preprocessor", "coerce_inputs", "feature_columns"]
