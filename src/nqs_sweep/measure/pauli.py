"""Pauli strings: their local estimator on configurations and their expectation on a state vector.

A string P = ⊗_i σ^{a_i}_i acts on a basis state as P|s⟩ = c(s)|s'⟩, where s' flips the X and Y
sites, and with σᶻ|s⟩ = s|s⟩, σˣ|s⟩ = |−s⟩, σʸ|s⟩ = i s|−s⟩. Its local value is then
P_loc(s) = Σ_s' ⟨s|P|s'⟩ ψ(s')/ψ(s) = Π_Z s_i · Π_Y (−i s_i) · ψ(flip s)/ψ(s).

The Marshall rotation U = Π_{i ∈ B} σᶻ_i maps σˣ and σʸ on sublattice B to minus themselves, so a
network in the rotated frame measures the physical P with the sign (−1)^{#X,Y on B}. Every value
this module returns is the physical one.

In the zero-magnetisation sector a string that changes the magnetisation has a zero matrix element
inside the sector: its flipped configurations are counted as zero amplitude, whatever the network
gives outside the sector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

PAULI_OPS = ("X", "Y", "Z")
_TERM = re.compile(r"([XYZxyz])(\d+)")


@dataclass(frozen=True, order=True)
class PauliString:
    """Sorted (site, op) pairs, each site at most once; the empty string is the identity."""

    terms: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, ops: dict[int, str]) -> PauliString:
        return cls(tuple(sorted((int(i), op) for i, op in ops.items())))

    @classmethod
    def parse(cls, text: str, n_sites: int) -> PauliString:
        """'X0 X1', 'Z3 Z5 Y7' (spaces optional): ValueError naming what is wrong."""
        if not isinstance(text, str):
            raise ValueError(f"a Pauli string is text such as 'X0 X1'; got {text!r}")
        stripped = text.replace(" ", "")
        pieces = _TERM.findall(stripped)
        if not pieces or "".join(op + site for op, site in pieces) != stripped:
            raise ValueError(f"{text!r} is not a Pauli string: write operators X, Y, Z with site numbers, e.g. 'X0 X1'")
        ops: dict[int, str] = {}
        for op, site in pieces:
            i = int(site)
            if i >= n_sites:
                raise ValueError(f"{text!r} names site {i}; the lattice has sites 0..{n_sites - 1}")
            if i in ops:
                raise ValueError(f"{text!r} names site {i} twice")
            ops[i] = op.upper()
        return cls.of(ops)

    def label(self) -> str:
        return " ".join(f"{op}{i}" for i, op in self.terms) or "I"

    def mask(self, n_sites: int, ops: str) -> np.ndarray:
        m = np.zeros(n_sites, bool)
        for i, op in self.terms:
            m[i] = op in ops
        return m


# σᵃσᵇ on one site = δ_ab + i ε_abc σᶜ: the product's phase and operator for a ≠ b.
_SITE_PRODUCT = {("X", "Y"): (1j, "Z"), ("Y", "Z"): (1j, "X"), ("Z", "X"): (1j, "Y")}
_SITE_PRODUCT.update({(b, a): (-phase, c) for (a, b), (phase, c) in list(_SITE_PRODUCT.items())})


def product(p: PauliString, q: PauliString) -> tuple[complex, PauliString]:
    """P Q = phase · R for Pauli strings: the phase is ±1 or ±i, R a Pauli string."""
    ops, phase = dict(p.terms), 1 + 0j
    for i, b in q.terms:
        a = ops.pop(i, None)
        if a is None:
            ops[i] = b
        elif a != b:
            factor, c = _SITE_PRODUCT[(a, b)]
            phase, ops[i] = phase * factor, c
    return phase, PauliString.of(ops)


def hermitian_product(
    p_terms: tuple[tuple[float, PauliString], ...], q_terms: tuple[tuple[float, PauliString], ...]
) -> tuple[tuple[float, PauliString], ...]:
    """The Hermitian part ½(AB + BA) of A = Σ a P and B = Σ b Q (real a, b) as (coefficient,
    string) terms: a product of Hermitian strings is ±R or ±iR with R Hermitian, and ±iR is
    anti-Hermitian, so the Hermitian part keeps the real phases. Equal strings are merged."""
    merged: dict[PauliString, float] = {}
    for a, pp in p_terms:
        for b, qq in q_terms:
            phase, r = product(pp, qq)
            if phase.imag == 0:  # ±iR terms have no Hermitian part: left out, not stored as zeros
                merged[r] = merged.get(r, 0.0) + a * b * phase.real
    return tuple((c, r) for r, c in merged.items() if c != 0)


def z_string(sites) -> PauliString:
    """Π σᶻ over the sites, a site twice cancelling (σᶻσᶻ = 1)."""
    odd: set[int] = set()
    for i in sites:
        odd ^= {int(i)}
    return PauliString.of(dict.fromkeys(odd, "Z"))


@dataclass(frozen=True)
class PauliTables:
    """The strings as arrays for the jitted estimator. Strings sharing a flip pattern share one
    evaluation of the network on the flipped configurations."""

    sign_sites: np.ndarray  # (K, N) Z and Y sites: their spins multiply the value
    constant: np.ndarray  # (K,) complex: (−i)^{#Y} times the Marshall sign
    flip_index: np.ndarray  # (K,) row of `flips`, −1 for a diagonal string
    flips: np.ndarray  # (M, N) the distinct flip patterns


def tables(strings: list[PauliString], n_sites: int, sublattice: np.ndarray, marshall_sign: bool) -> PauliTables:
    flips: dict[tuple[bool, ...], int] = {}
    sign_sites, constant, flip_index = [], [], []
    for p in strings:
        flip = p.mask(n_sites, "XY")
        sign_sites.append(p.mask(n_sites, "ZY"))
        n_y = int(p.mask(n_sites, "Y").sum())
        marshall = (-1) ** int((flip & (sublattice == 1)).sum()) if marshall_sign else 1
        constant.append((-1j) ** n_y * marshall)
        if flip.any():
            flip_index.append(flips.setdefault(tuple(flip), len(flips)))
        else:
            flip_index.append(-1)
    flip_rows = np.array(list(flips), bool).reshape(len(flips), n_sites)
    return PauliTables(
        np.array(sign_sites, bool).reshape(len(strings), n_sites),
        np.array(constant, np.complex128),
        np.array(flip_index, np.int64),
        flip_rows,
    )


def local_values(t: PauliTables, log_psi, theta, s: jax.Array, zero_magnetization: bool) -> jax.Array:
    """(B, K) complex local values of the strings on configurations s: (B, N) of ±1."""
    down = (1 - s) / 2  # a product of ±1 spins is the parity of its downs: one matmul for every string
    parity = jnp.mod(jnp.round(down @ jnp.asarray(t.sign_sites, s.dtype).T), 2)
    values = (1 - 2 * parity) * jnp.asarray(t.constant)
    if not len(t.flips):
        return values
    log_here = log_psi(theta, s)

    def ratio(flip):
        flipped = s * (1 - 2 * flip)
        r = jnp.exp(log_psi(theta, flipped) - log_here)
        if zero_magnetization:  # outside the sector the state has no amplitude
            r = jnp.where(jnp.sum(flipped, axis=-1) == 0, r, 0)
        return r

    ratios = jax.lax.map(ratio, jnp.asarray(t.flips, s.dtype))  # (M, B)
    ratios = jnp.concatenate([jnp.ones((1, s.shape[0]), ratios.dtype), ratios], axis=0)
    return values * ratios[jnp.asarray(t.flip_index) + 1].T


# --- on a state vector ---------------------------------------------------------------------------


def full_vector(vector: np.ndarray, n_sites: int, sector: str) -> np.ndarray:
    """A sector's vector (sorted basis index) on the full space of 2^N amplitudes."""
    from nqs_sweep.physics import hilbert

    if vector.size == 2**n_sites:
        return np.asarray(vector)
    full = np.zeros(2**n_sites, vector.dtype)
    full[hilbert.sector_indices(n_sites, sector)] = vector
    return full


def expectation(p: PauliString, v: np.ndarray, n_sites: int, sublattice: np.ndarray, marshall_sign: bool) -> float:
    """⟨v|P|v⟩/⟨v|v⟩ on a full-space vector in the network's frame (the physical value)."""
    idx = np.arange(v.size, dtype=np.int64)
    flip_mask = 0
    sign = np.ones(v.size)
    n_y = 0
    for i, op in p.terms:
        bit = np.int64(1) << np.int64(n_sites - 1 - i)
        if op in "XY":
            flip_mask |= int(bit)
        if op in "ZY":
            sign = sign * (1 - 2 * ((idx & bit) != 0))
        n_y += op == "Y"
    marshall = (-1) ** sum(1 for i, op in p.terms if op in "XY" and sublattice[i] == 1) if marshall_sign else 1
    # ⟨v|P|v⟩ = Σ_k conj(v[k]) ⟨k|P|v⟩, and ⟨k|P|k'⟩ = c(k') for k = flip(k'): P_loc read backwards
    value = np.vdot(v, (sign * (-1j) ** n_y) * v[idx ^ flip_mask]) * marshall
    return float(np.real(value) / np.vdot(v, v).real)
