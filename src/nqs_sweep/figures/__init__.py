"""Figures: the study figures, the paper's figures and their manifests."""
