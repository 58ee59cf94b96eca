import jax.numpy as jnp
import pytest

from nqs_sweep.optim.schedules import schedule_at, schedule_values
from nqs_sweep.spec import Schedule, SpecError, parse_spec


@pytest.mark.parametrize(
    "kind,t,expected",
    [
        ("constant", 50, 0.1),
        ("linear", 0, 0.1),
        ("linear", 50, 0.055),
        ("linear", 100, 0.01),
        ("linear", 500, 0.01),
        ("exponential", 50, 0.1 * 0.1**0.5),
        ("exponential", 100, 0.01),
        ("cosine", 50, 0.055),
        ("cosine", 100, 0.01),
    ],
)
def test_schedule_values(kind, t, expected):
    v = schedule_values(Schedule(kind, 0.1, 0.01 if kind != "constant" else 0.1, 100))
    assert float(schedule_at(kind, v, jnp.asarray(float(t)))) == pytest.approx(expected)


def test_schedules_in_the_spec_default_their_length_to_the_run():
    raw = {"model": {"name": "tfim"}, "lattice": {"kind": "chain", "L": 4}, "ansatz": {"name": "rbm"}}
    spec = parse_spec({**raw, "optimizer": {"n_iter": 77, "learning_rate": {"schedule": "cosine", "init": 0.1, "end": 0.01}}})
    assert spec.optimizer.learning_rate == Schedule("cosine", 0.1, 0.01, 77)
    with pytest.raises(SpecError, match="optimizer.learning_rate.schedule"):
        parse_spec({**raw, "optimizer": {"learning_rate": {"schedule": "step", "init": 0.1}}})
    with pytest.raises(SpecError, match="optimizer.diag_shift"):
        parse_spec({**raw, "optimizer": {"diag_shift": {"schedule": "exponential", "init": 0.1, "end": 0.0}}})
