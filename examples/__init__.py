"""Runnable example configurations; a package so that ``import: examples.<name>.tasks`` works."""
