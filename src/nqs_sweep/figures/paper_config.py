"""The paper file (config/paper/<scale>.yaml): which study is behind which figures, checked
before any job. workflow/paper.smk calls check_paper; it is plain Python so that every refusal
is tested in-process, without a Snakemake start-up each."""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

# The studies a paper file must name (workflow/paper.smk draws each figure from one of them).
PAPER_STUDIES = ("width", "ansatz", "sign", "qgt", "quench", "volume")
# Sections the figures need from a study beyond its points.
REQUIRED_SECTIONS = {"qgt": "qgt", "quench": "quenches", "volume": "quenches"}
# Studies whose figures draw the Rényi-2 entropy: they must measure it.
RENYI_FIGURES = {"quench": "the entanglement figure", "volume": "the volume-law figure"}


class PaperConfigError(ValueError):
    """The paper file is malformed; the message names the key."""

    def __init__(self, message: str):
        super().__init__(f"invalid paper file: {message}")


def check_paper(cfg: Any) -> dict[str, str]:
    """Validate a paper file's mapping; returns the `study:` name of each study key.

    Paths are relative to the working directory, as Snakemake reads them."""
    if not isinstance(cfg, dict):
        raise PaperConfigError(f"must be a mapping with keys paper, studies (and description); got {type(cfg).__name__}")
    if set(cfg) - {"paper", "description", "studies"} or "paper" not in cfg or "studies" not in cfg:
        raise PaperConfigError(f"keys must be paper, studies (and description); got {sorted(cfg)}")
    if not isinstance(cfg["paper"], str) or not re.fullmatch(r"[A-Za-z0-9_-]+", cfg["paper"]):
        raise PaperConfigError(f"paper: a plain name (it becomes results/paper/<name>/); got {cfg['paper']!r}")
    studies = cfg["studies"]
    if not isinstance(studies, dict) or set(studies) != set(PAPER_STUDIES):
        got = sorted(studies) if isinstance(studies, dict) else studies
        raise PaperConfigError(f"studies must name exactly {', '.join(PAPER_STUDIES)}; got {got}")
    names = {}
    for key in PAPER_STUDIES:
        path = studies[key]
        if not isinstance(path, str) or not os.path.isfile(path):
            raise PaperConfigError(f"studies.{key}: no such study file: {path}")
        with open(path) as f:
            study = yaml.safe_load(f)
        section = REQUIRED_SECTIONS.get(key)
        if section and not (isinstance(study, dict) and study.get(section)):
            raise PaperConfigError(f"studies.{key}: {path} has no `{section}:` section, which its figure needs")
        if key in RENYI_FIGURES and "renyi2" not in _default_measurements(study):
            raise PaperConfigError(
                f"studies.{key}: {path} does not measure renyi2 (defaults.measurements.renyi2), which {RENYI_FIGURES[key]} needs"
            )
        names[key] = study.get("study") if isinstance(study, dict) else None  # each module validates its own
    if len(set(names.values())) != len(names):  # their results would share results/<study>/
        raise PaperConfigError(f"the studies must have distinct `study:` names; got {names}")
    return names


def _default_measurements(study: Any) -> dict:
    defaults = study.get("defaults") if isinstance(study, dict) else None
    measurements = defaults.get("measurements") if isinstance(defaults, dict) else None
    return measurements if isinstance(measurements, dict) else {}
