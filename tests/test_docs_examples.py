"""Every YAML example in the README and docs/ is valid: a block with a top-level `study` key is
expanded as a study, one with `model`, `lattice` and `ansatz` is parsed as a point spec (or a
quench spec with `dynamics`), and every other block (a fragment of one) is at least YAML. Links
between the pages point at files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from nqs_sweep.quench import parse_quench
from nqs_sweep.spec import parse_spec
from nqs_sweep.study import expand_study

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", page.read_text(), flags=re.M | re.S)


def test_the_pages_have_yaml_examples():
    assert sum(len(blocks(p)) for p in PAGES) >= 5


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_yaml_example_is_valid(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # plug-in paths in examples are relative to where a study runs
    for text in blocks(page):
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            continue
        if "study" in data and ("grid" in data or "defaults" in data or "points" in data):
            expand_study(data)
        elif {"model", "lattice", "ansatz"} <= set(data) and "module" not in str(data.get("ansatz")):
            (parse_quench if "dynamics" in data else parse_spec)(data)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_pages_resolve(page):
    for target in re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_point_spec_with_its_defaults_is_the_defaults():
    """docs/studies.md writes every default out: that block is the spec of its three required fields."""
    text = (ROOT / "docs" / "studies.md").read_text()
    block = next(b for b in blocks(ROOT / "docs" / "studies.md") if b.startswith("model:"))
    written = parse_spec(yaml.safe_load(block))
    minimal = parse_spec({"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 20}, "ansatz": {"name": "rbm"}})
    assert written == minimal and "every default written out" in text


def test_the_catalog_test_config_is_a_small_valid_study():
    study = expand_study(yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text()))
    assert len(study.points) == 4 and all(p.spec.optimizer.n_iter <= 50 for p in study.points)
    assert (ROOT / "workflow" / "report" / "workflow.rst").exists()
    assert "workflow/report/workflow.rst" in (ROOT / "Snakefile").read_text()
