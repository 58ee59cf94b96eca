import pytest

from nqs_sweep.spec import parse_spec


def make_spec(model: dict, lattice: dict, ansatz: dict | None = None, **extra):
    raw = {"model": model, "lattice": lattice, "ansatz": ansatz or {"name": "rbm", "alpha": 1}}
    raw.update(extra)
    return parse_spec(raw)


@pytest.fixture
def spec_factory():
    return make_spec
