"""Polynomials over an NTT-friendly field: NTT, and the Lagrange-basis helpers of the FLP.

The FLP keeps its polynomials in the Lagrange basis: a polynomial of degree < n is the list
of its values at the n-th roots of unity 1, w, w**2, ... (w = `field.nth_root(n)`). The
helpers here mirror the draft's `Lagrange` class, but every data-independent quantity
(twiddles, interpolation weights) is computed once per size and cached, since the
aggregators evaluate the same shapes for every report.
"""

from __future__ import annotations

import operator
from functools import lru_cache

from worktally.client.wire.vdaf.errors import VdafError
from worktally.client.wire.vdaf.field import Field

_mul = operator.mul


def next_power_of_2(x: int) -> int:
    """The smallest power of two >= x (1 for x <= 1)."""
    return 1 if x <= 1 else 1 << (x - 1).bit_length()


def assert_power_of_2(x: int) -> int:
    """log2(x) for a positive power of two; VdafError otherwise."""
    if x < 1 or x & (x - 1):
        raise VdafError(f"{x} is not a power of two")
    return x.bit_length() - 1


def poly_eval(field: Field, coeffs: list[int], x: int) -> int:
    """Evaluate a polynomial given by its coefficients (constant term first) at x."""
    p = field.MODULUS
    out = 0
    for c in reversed(coeffs):
        out = (out * x + c) % p
    return out


# --- number theoretic transform --------------------------------------------------------


def _bit_reverse(n: int) -> list[int]:
    bits = n.bit_length() - 1
    return [int(f"{i:0{bits}b}"[::-1], 2) if bits else 0 for i in range(n)]


@lru_cache(maxsize=64)
def _ntt_plan(field: Field, n: int, inverse: bool) -> tuple[list[int], list[list[int]]]:
    """The bit-reversal order and, per butterfly stage, the twiddle factors it uses."""
    powers = field.nth_root_powers(n)
    if inverse:  # w**-i == w**(n-i)
        powers = [powers[(n - i) % n] for i in range(n)]
    stages = []
    size = 2
    while size <= n:
        step = n // size
        stages.append([powers[j * step] for j in range(size // 2)])
        size *= 2
    return _bit_reverse(n), stages


def _transform(field: Field, values: list[int], n: int, inverse: bool) -> list[int]:
    # Iterative radix-2 Cooley-Tukey; one `% p` per butterfly output.
    p = field.MODULUS
    order, stages = _ntt_plan(field, n, inverse)
    a = [values[i] if i < len(values) else 0 for i in order]
    half = 1
    for twiddles in stages:
        size = half * 2
        for start in range(0, n, size):
            for j in range(half):
                u = a[start + j]
                v = a[start + j + half] * twiddles[j] % p
                a[start + j] = (u + v) % p
                a[start + j + half] = (u - v) % p
        half = size
    return a


def ntt(field: Field, coeffs: list[int], n: int, set_s: bool = False) -> list[int]:
    """Evaluate a polynomial (coefficients, len <= n) at w_n**i, or at s * w_n**i with
    s = w_2n when `set_s` (the "odd" points that double a Lagrange representation)."""
    assert_power_of_2(n)
    if len(coeffs) > n:
        raise VdafError("polynomial longer than the transform")
    if set_s:
        p = field.MODULUS
        s_powers = field.nth_root_powers(2 * n)
        coeffs = [c * s_powers[i] % p for i, c in enumerate(coeffs)]
    return _transform(field, coeffs, n, inverse=False)


def inv_ntt(field: Field, values: list[int], n: int) -> list[int]:
    """The coefficients of the polynomial taking `values` at the first n powers of w_n."""
    assert_power_of_2(n)
    p = field.MODULUS
    n_inv = pow(n, -1, p)
    return [x * n_inv % p for x in _transform(field, values, n, inverse=True)]


# --- Lagrange basis ---------------------------------------------------------------------


def double_evaluations(field: Field, values: list[int]) -> list[int]:
    """2n values at the 2n-th roots of unity from the n values at the n-th roots."""
    n = len(values)
    odd = ntt(field, inv_ntt(field, values, n), n, set_s=True)
    out = [0] * (2 * n)
    out[0::2] = values
    out[1::2] = odd
    return out


def poly_mul(field: Field, left: list[int], right: list[int]) -> list[int]:
    """The product of two Lagrange-basis polynomials of equal power-of-two length."""
    if len(left) != len(right):
        raise VdafError("poly_mul needs equal lengths")
    p = field.MODULUS
    return [a * b % p for a, b in zip(double_evaluations(field, left),
                                      double_evaluations(field, right), strict=True)]


def lagrange_weights(field: Field, n: int, t: int) -> list[int]:
    """c with p(t) = sum(c[i] * p[i]) for every p of degree < n in the Lagrange basis.

    Barycentric form over the n-th roots of unity:
    L_i(t) = (t**n - 1) * w**i / (n * (t - w**i)). Callers make sure t is not a root of
    unity (the FLP rejects such a query point), so no denominator is zero. One inversion
    for all n denominators (prefix products) keeps this linear in n.
    """
    p = field.MODULUS
    nodes = field.nth_root_powers(n)
    diffs = [(t - w) % p for w in nodes]
    prefix = [1] * (n + 1)
    for i, d in enumerate(diffs):
        prefix[i + 1] = prefix[i] * d % p
    if prefix[n] == 0:
        raise VdafError("evaluation point is a root of unity")
    inv_acc = pow(prefix[n], -1, p)
    factor = (pow(t, n, p) - 1) * pow(n, -1, p) % p
    weights = [0] * n
    for i in range(n - 1, -1, -1):
        inv_d = inv_acc * prefix[i] % p  # 1 / diffs[i]
        inv_acc = inv_acc * diffs[i] % p
        weights[i] = factor * nodes[i] % p * inv_d % p
    return weights


def poly_eval_batched(field: Field, polys: list[list[int]], t: int) -> list[int]:
    """Evaluate Lagrange-basis polynomials (all of one power-of-two length) at t."""
    n = len(polys[0])
    assert_power_of_2(n)
    p = field.MODULUS
    weights = lagrange_weights(field, n, t)
    return [sum(map(_mul, weights, poly)) % p for poly in polys]


@lru_cache(maxsize=64)
def _extension_matrix(field: Field, m: int, n: int) -> list[list[int]]:
    """Rows k = m..n-1: the weights giving the value at w_n**k of the polynomial of degree
    < m through the first m points. Data-independent, so computed once per shape."""
    p = field.MODULUS
    x = field.nth_root_powers(n)
    denominators = []
    for i in range(m):
        d = 1
        for j in range(m):
            if j != i:
                d = d * (x[i] - x[j]) % p
        denominators.append(pow(d, -1, p))
    rows = []
    for k in range(m, n):
        row = []
        for i in range(m):
            num = 1
            for j in range(m):
                if j != i:
                    num = num * (x[k] - x[j]) % p
            row.append(num * denominators[i] % p)
        rows.append(row)
    return rows


def extend_values_to_power_of_2(field: Field, values: list[int], n: int) -> list[int]:
    """Append values at the next roots of unity until there are n (a power of two).

    Same result as the draft's incremental algorithm: every appended value lies on the
    unique polynomial of degree < len(values) through the given ones.
    """
    assert_power_of_2(n)
    m = len(values)
    if m > n or m == 0:
        raise VdafError("cannot extend to a shorter length")
    if m == n:
        return list(values)
    p = field.MODULUS
    return list(values) + [sum(map(_mul, row, values)) % p
                           for row in _extension_matrix(field, m, n)]
