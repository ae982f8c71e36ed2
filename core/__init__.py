"""Sift's core: the product's logic, independent of any user interface."""
