"""Sift's Streamlit user interface: thin pages over core."""
