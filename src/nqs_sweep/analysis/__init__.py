"""Analyses of a finished run: QGT spectra and sampling efficiency."""
