"""Brute-force references, written independently of the solver's kernels.

Hamiltonians are sums of Kronecker products of Pauli matrices over the lattice's
bonds; ansatze are their formulas in numpy on the parameter pytree. Basis order is
that of np.kron (site 0 is the most significant factor), σᶻ|0⟩ = +|0⟩.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
import yaml

from nqs_sweep.physics.hilbert import sector_indices
from nqs_sweep.physics.lattice import Lattice
from nqs_sweep.spec import PointSpec

SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]], dtype=complex)
SZ = np.array([[1, 0], [0, -1]], dtype=complex)
ID = np.eye(2, dtype=complex)


def site_op(op: np.ndarray, site: int, n: int) -> np.ndarray:
    return reduce(np.kron, [op if k == site else ID for k in range(n)])


def pair_op(op: np.ndarray, i: int, j: int, n: int) -> np.ndarray:
    return site_op(op, i, n) @ site_op(op, j, n)


def dense_hamiltonian(spec: PointSpec) -> np.ndarray:
    """H in the spec's sector, with the Marshall rotation applied when asked for."""
    lat = Lattice(spec.lattice.kind, spec.lattice.L, spec.lattice.pbc)
    n = lat.n_sites
    c = dict(spec.model.couplings)
    H = np.zeros((2**n, 2**n), dtype=complex)

    def heis(bonds, J, delta):
        out = np.zeros_like(H)
        for i, j in bonds:
            out += J * (pair_op(SX, i, j, n) + pair_op(SY, i, j, n) + delta * pair_op(SZ, i, j, n))
        return out

    name = spec.model.name
    if name == "tfim":
        for i, j in lat.nn_bonds:
            H -= c["J"] * pair_op(SZ, i, j, n)
        for i in range(n):
            H -= c["h"] * site_op(SX, i, n)
    elif name in ("xxz", "heisenberg"):
        H += heis(lat.nn_bonds, c["J"], c.get("Delta", 1.0))
    elif name == "j1j2":
        H += heis(lat.nn_bonds, c["J1"], 1.0) + heis(lat.nnn_bonds, c["J2"], 1.0)
    assert np.allclose(H, H.conj().T)
    if spec.marshall_sign:
        up_on_b = np.array(
            [sum(1 for k in range(n) if lat.sublattice[k] == 1 and not (idx >> (n - 1 - k)) & 1) for idx in range(2**n)]
        )
        U = np.diag((-1.0) ** up_on_b)
        H = U @ H @ U
    idx = sector_indices(n, spec.sector)
    return H[np.ix_(idx, idx)]


def _log_cosh(z):
    return np.log(np.cosh(z))


def _permutation_sign(order: list[int]) -> int:
    """(−1)^(number of transpositions), by following the permutation's cycles."""
    seen, sign = set(), 1
    for start in range(len(order)):
        length, k = 0, start
        while k not in seen:
            seen.add(k)
            k = order[k]
            length += 1
        if length:
            sign *= (-1) ** (length - 1)
    return sign


def _pair_product_reference(f: np.ndarray, s: np.ndarray) -> np.ndarray:
    """log of (sign of the reordering from site order to ups, then downs) · det F[ups, downs]."""
    out = []
    for row in s:
        ups = [i for i in range(len(row)) if row[i] > 0]
        downs = [i for i in range(len(row)) if row[i] < 0]
        det = np.linalg.det(f[np.ix_(ups, downs)])
        out.append(np.log(complex(_permutation_sign(ups + downs) * det)))
    return np.array(out)


def log_psi_reference(
    name: str,
    params: dict,
    s: np.ndarray,
    translations: np.ndarray,
    activation: str = "cosh",
    zero_magnetization: bool = False,
    width: int | None = None,
) -> np.ndarray:
    """The ansatz formulas, evaluated directly. s: (B, N) of ±1; the sector and the lattice's
    row length (width) matter to the autoregressive networks only. Separate amplitude and
    phase networks: Re of the first's formula plus i Re of the second's."""
    if set(params) == {"amplitude", "phase"}:
        parts = [log_psi_reference(name, params[k], s, translations, activation, zero_magnetization, width) for k in params]
        return np.real(parts[0]) + 1j * np.real(parts[1])
    if name == "gcnn":
        return _gcnn_reference(params, s.astype(float), translations, activation)
    if name == "resnet":
        return _resnet_reference(params, s.astype(float), activation)
    if name == "vit":
        return _vit_reference(params, s.astype(float), activation, width)
    if name in ("arnn", "arnn_conv"):
        return arnn_reference(params, s.astype(float), activation, zero_magnetization, width)
    p = {k: np.asarray(v) for k, v in params.items() if k != "hidden"}
    s = s.astype(float)
    if name == "ffnn" and "hidden" in params:  # deeper layers first, then the one-layer formula on their output
        sigma = _log_cosh if activation == "cosh" else np.tanh
        for layer in params["hidden"]:
            s = sigma(s @ np.asarray(layer["W"]).T + np.asarray(layer["b"]))
    if name == "rbm":
        return s @ p["a"] + _log_cosh(s @ p["W"].T + p["b"]).sum(-1)
    if name == "ffnn":
        act = np.cosh if activation == "cosh" else np.tanh
        return np.log((act(s @ p["W"].T + p["b"]) * p["V"]).sum(-1).astype(complex))
    if name == "rbm_pp":
        return _pair_product_reference(p["F"], s) + log_psi_reference("rbm", params["rbm"], s, translations)
    if name == "rbm_symm":
        out = p["a"] * s.sum(-1)
        for perm in translations:
            out = out + _log_cosh(s[:, perm] @ p["W"].T + p["b"]).sum(-1)
        return out
    raise ValueError(name)


def _gcnn_reference(params: dict, s: np.ndarray, group: np.ndarray, activation: str) -> np.ndarray:
    """The group convolution written as loops over group elements, from its definition:
    x1[g] = σ(W T_g s + b), x'[g] = σ(Σ_k K[k] x[k·g] + b'), log ψ = log Σ_g exp Σ_f x_L[g, f],
    with k·g the element whose permutation is group[g][group[k]] (T_k T_g s = s[group[g][group[k]]])."""
    sigma = _log_cosh if activation == "cosh" else np.tanh
    group = np.asarray(group)
    where = {tuple(p): i for i, p in enumerate(group.tolist())}
    n_group = len(group)
    first, *rest = [{k: np.asarray(v) for k, v in layer.items()} for layer in params["layers"]]
    x = np.stack([sigma(s[:, group[g]] @ first["W"].T + first["b"]) for g in range(n_group)], axis=1)  # (B, G, F)
    for layer in rest:
        K, b = layer["W"], layer["b"]
        new = np.zeros((s.shape[0], n_group, K.shape[0]), dtype=complex)
        for g in range(n_group):
            for k in range(n_group):
                kg = where[tuple(group[g][group[k]].tolist())]
                new[:, g, :] += x[:, kg, :] @ K[:, :, k].T
        x = sigma(new + b)
    if "readout" in params:  # the approximately symmetric network: a weight per element and channel
        x = x * np.asarray(params["readout"])
    return np.log(np.exp(x.sum(-1).astype(complex)).sum(-1))


def _resnet_reference(params: dict, s: np.ndarray, activation: str) -> np.ndarray:
    """The residual network from its definition, each periodic convolution a loop over sites and
    window offsets: y[r, o] = Σ_{δ, i} W[δ, i, o] x[r + δ − (k − 1) // 2 mod L, i] + b[o]; the
    grid is a line or an L × L square (site y L + x)."""
    sigma = _log_cosh if activation == "cosh" else np.tanh
    dim = np.asarray(params["input"]["W"]).ndim - 2
    n = s.shape[1]
    size = n if dim == 1 else round(np.sqrt(n))
    coords = np.stack([np.arange(n)] if dim == 1 else [np.arange(n) % size, np.arange(n) // size], axis=1)  # (x, y)

    def conv(x, layer):
        w, b = np.asarray(layer["W"]), np.asarray(layer["b"])
        k = w.shape[0]
        out = np.zeros((*x.shape[:2], w.shape[-1]), dtype=complex) + b
        for r in range(n):
            for delta in np.ndindex(*(k,) * dim):
                # the kernel's first axis runs along rows (y), its second along columns (x)
                step = np.array(delta[::-1]) - (k - 1) // 2
                q = (coords[r] + step) % size
                site = q[0] if dim == 1 else q[1] * size + q[0]
                out[:, r, :] += x[:, site, :] @ w[delta]
        return out

    x = conv(s[:, :, None], params["input"])
    for block in params["blocks"]:
        x = x + conv(sigma(conv(sigma(x), block["a"])), block["b"])
    z = sigma(x) @ np.asarray(params["output"])
    return np.log(np.exp(z.astype(complex)).sum(-1))


def _vit_reference(params: dict, s: np.ndarray, activation: str, width: int) -> np.ndarray:
    """The transformer from its definition, token by token: site r's token is its patch (the b-wide
    window starting at r, periodic), head h mixes token j into token i with weight a_h[r_i − r_j]
    and acts on the h-th slice of the values; layer norm centres and divides by the rms modulus."""
    sigma = _log_cosh if activation == "cosh" else np.tanh
    n_batch, n = s.shape
    blocks = [
        {k: {q: np.asarray(w) for q, w in v.items()} if isinstance(v, dict) else np.asarray(v) for k, v in b.items()}
        for b in params["blocks"]
    ]
    embed = {k: np.asarray(v) for k, v in params["embed"].items()}
    window = embed["W"].shape[0]
    L = width  # the row length: n on a chain, L on the L x L square
    dim = 1 if L == n else 2
    b = round(window ** (1 / dim))
    coords = [np.unravel_index(r, (L,) * dim) for r in range(n)]

    def site(c):
        return int(np.ravel_multi_index(tuple(np.mod(c, L)), (L,) * dim))

    def norm(x, p):
        c = x - x.mean(-1, keepdims=True)
        return c / np.sqrt((np.abs(c) ** 2).mean(-1, keepdims=True) + 1e-6) * p["g"] + p["b"]

    tokens = np.zeros((n_batch, n, window))
    for r in range(n):
        for k, off in enumerate(np.ndindex(*(b,) * dim)):
            tokens[:, r, k] = s[:, site(np.add(coords[r], off))]
    x = (tokens @ embed["W"] + embed["b"]).astype(complex)
    for blk in blocks:
        heads, f = blk["attention"].shape[0], x.shape[-1]
        v = norm(x, blk["norm_1"]) @ blk["value"]
        mixed = np.zeros_like(v)
        for h in range(heads):
            cols = slice(h * f // heads, (h + 1) * f // heads)
            for i in range(n):
                for j in range(n):
                    d = site(np.subtract(coords[i], coords[j]))
                    mixed[:, i, cols] += blk["attention"][h, d] * v[:, j, cols]
        x = x + mixed @ blk["out"]["W"] + blk["out"]["b"]
        hidden = sigma(norm(x, blk["norm_2"]) @ blk["mlp_1"]["W"] + blk["mlp_1"]["b"])
        x = x + hidden @ blk["mlp_2"]["W"] + blk["mlp_2"]["b"]
    z = x.sum(1)
    final = {k: np.asarray(v) for k, v in params["final"].items()}
    return sigma(z @ final["W"] + final["b"]).sum(-1)


def arnn_reference(
    params: dict, s: np.ndarray, activation: str = "cosh", zero_magnetization: bool = False, width: int | None = None
) -> np.ndarray:
    """The autoregressive product written site by site: at site i every layer sums over
    j < i (first layer) or j <= i (later ones), the weights listed pair by pair in the
    order i = 0.., j = 0.. (dense, width None) or one per offset (dy, dx) of j from i on rows
    of ``width`` sites, offsets in increasing (dy, dx) (convolution); then, with site i's
    output w_i and logits z_i(±1) = ±w_i/2, log ψ = Σ_i [z_i(s_i) − ½ log Σ_σ e^{2 Re z_i(σ)}]."""
    sigma = _log_cosh if activation == "cosh" else np.tanh
    layers = [{k: np.asarray(v) for k, v in layer.items()} for layer in params["layers"]]
    batch, n = s.shape

    def pair_weights(packed: np.ndarray, inclusive: bool) -> dict:
        pairs = [(i, j) for i in range(n) for j in range(i + 1 if inclusive else i)]
        if width is None:
            return dict(zip(pairs, packed))
        offset = {(i, j): (j // width - i // width, j % width - i % width) for i, j in pairs}
        kernel = dict(zip(sorted(set(offset.values())), packed))
        return {pair: kernel[offset[pair]] for pair in pairs}

    x = s[:, :, None].astype(complex)
    for depth, layer in enumerate(layers):
        weight = pair_weights(layer["W"], inclusive=depth > 0)
        out = np.zeros((batch, n, layer["b"].shape[1]), dtype=complex)
        for i in range(n):
            out[:, i] = layer["b"][i]
            for j in range(i if depth == 0 else i + 1):
                out[:, i] += x[:, j] @ weight[i, j].T
        x = sigma(out) if depth < len(layers) - 1 else out
    # the linear skip from the earlier spins to the logits, weighted like a first layer
    for (i, j), w in pair_weights(np.asarray(params["skip"]), inclusive=False).items():
        x[:, i] += s[:, j, None] * w[:, 0]
    log_psi = np.zeros(batch, dtype=complex)
    for b in range(batch):
        for i in range(n):
            z = np.array([x[b, i, 0] / 2, -x[b, i, 0] / 2])  # the logits of +1 and −1
            if zero_magnetization:
                ups = int(np.sum(s[b, :i] > 0))
                z[0] = z[0] if ups < n // 2 else -np.inf
                z[1] = z[1] if i - ups < n // 2 else -np.inf
            norm = 0.5 * np.log(np.sum(np.exp(2 * z.real)))
            log_psi[b] += (z[0] if s[b, i] > 0 else z[1]) - norm
    return log_psi


def dense_jacobian(log_psi, theta, states) -> tuple[np.ndarray, np.ndarray]:
    """The unnormalised state vector v = exp(log ψθ) over ``states`` and its Jacobian J = ∂v/∂θ
    (forward mode, θ real). No estimator code."""
    import jax
    import jax.numpy as jnp

    psi_vec = lambda th: jnp.exp(log_psi(th, states))  # noqa: E731
    # jitted: a deep network run op by op compiles each of its operations on its own
    return np.asarray(jax.jit(psi_vec)(theta)), np.asarray(jax.jit(jax.jacfwd(psi_vec))(theta))


def dense_qgt(log_psi, theta, states, jacobian=None) -> np.ndarray:
    """Fubini–Study metric of the unnormalised state vector exp(log ψθ) over ``states``,
    from its Jacobian: Re[J†J/n − (J†ψ)(ψ†J)/n²] with n = ψ†ψ. No estimator code.
    jacobian: dense_jacobian's (v, J), where the caller has it already."""
    v, J = jacobian if jacobian is not None else dense_jacobian(log_psi, theta, states)
    norm = np.vdot(v, v).real
    jv = J.conj().T @ v
    return np.real(J.conj().T @ J / norm - np.outer(jv, jv.conj()) / norm**2)


def dense_energy_gradient(H, jacobian) -> np.ndarray:
    """∂E/∂θ of the Rayleigh quotient E(θ) = Re(v†Hv)/v†v for real θ, by the chain rule on the
    dense Hamiltonian and dense_jacobian's (v, J): 2 Re[J†(Hv − E v)]/v†v. No estimator code."""
    v, J = jacobian
    norm = np.vdot(v, v).real
    hv = H @ v
    energy = np.vdot(v, hv).real / norm
    return 2 * np.real(J.conj().T @ (hv - energy * v)) / norm


# A point that runs in seconds: the runs of the driver and fault tests.
SMALL = {
    "model": {"name": "tfim", "h": 1.0},
    "lattice": {"kind": "chain", "L": 8},
    "ansatz": {"name": "rbm", "alpha": 1, "dtype": "float64"},
    "sampler": {"n_samples": 128, "n_chains": 8, "n_discard": 4},
    "optimizer": {"kind": "sr", "learning_rate": 0.05, "n_iter": 20},
    "seed": 3,
}


def write_spec(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return path
