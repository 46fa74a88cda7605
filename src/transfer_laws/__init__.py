"""Scaling laws for transfer (Hernandez et al. 2021), reproduced at CPU scale."""

__version__ = "0.1.0"
