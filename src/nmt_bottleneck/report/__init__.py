"""Figures and the markdown report: drawing only, no scoring."""
