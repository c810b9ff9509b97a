"""Presenting results: terminal tables, plots and the self-contained HTML report."""
