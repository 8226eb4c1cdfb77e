"""Fields, encodings and the polynomial helpers, checked against naive definitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worktally.client.wire.vdaf import Field, Field64, Field128, VdafError
from worktally.client.wire.vdaf.polynomial import (
    double_evaluations,
    extend_values_to_power_of_2,
    inv_ntt,
    ntt,
    poly_eval,
    poly_eval_batched,
)

FIELDS = [Field64, Field128]


@pytest.mark.parametrize("field", FIELDS, ids=repr)
def test_generator_has_exactly_the_declared_power_of_two_order(field: Field) -> None:
    p = field.MODULUS
    assert (p - 1) % field.GEN_ORDER == 0
    assert pow(field.generator, field.GEN_ORDER, p) == 1
    assert pow(field.generator, field.GEN_ORDER // 2, p) == p - 1


def test_field_parameters_are_the_drafts() -> None:
    assert Field64.MODULUS == 2**64 - 2**32 + 1
    assert Field128.MODULUS == 2**66 * 4611686018427387897 + 1
    assert (Field64.ENCODED_SIZE, Field128.ENCODED_SIZE) == (8, 16)


@pytest.mark.parametrize("field", FIELDS, ids=repr)
def test_encoding_round_trips_and_rejects_malformed_bytes(field: Field) -> None:
    vec = [0, 1, field.MODULUS - 1, 12345]
    data = field.encode_vec(vec)
    assert len(data) == 4 * field.ENCODED_SIZE
    assert field.decode_vec(data) == vec
    with pytest.raises(VdafError, match="multiple"):
        field.decode_vec(data[:-1])
    with pytest.raises(VdafError, match="modulus"):
        field.decode_vec(field.MODULUS.to_bytes(field.ENCODED_SIZE, "little"))


@pytest.mark.parametrize("field", FIELDS, ids=repr)
def test_signed_reading_and_noise(field: Field) -> None:
    p = field.MODULUS
    assert field.to_signed(p - 3) == -3
    assert field.to_signed(7) == 7
    noised = field.vec_add_signed([5, 0], [-8, 2])
    assert noised == [p - 3, 2]
    assert [field.to_signed(x) for x in noised] == [-3, 2]
    assert field.from_int(-1) == p - 1
    with pytest.raises(VdafError):
        field.from_int(p)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(FIELDS), st.sampled_from([1, 2, 4, 8, 16, 32]), st.data())
def test_ntt_matches_naive_evaluation(field: Field, n: int, data: st.DataObject) -> None:
    p = field.MODULUS
    coeffs = data.draw(st.lists(st.integers(0, p - 1), min_size=n, max_size=n))
    w = field.nth_root(n)
    s = field.nth_root(2 * n)
    assert ntt(field, coeffs, n) == [poly_eval(field, coeffs, pow(w, i, p)) for i in range(n)]
    assert ntt(field, coeffs, n, set_s=True) == [
        poly_eval(field, coeffs, s * pow(w, i, p) % p) for i in range(n)]
    assert inv_ntt(field, ntt(field, coeffs, n), n) == coeffs


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(FIELDS), st.sampled_from([2, 4, 8, 16]), st.data())
def test_lagrange_helpers_agree_with_the_monomial_polynomial(
        field: Field, n: int, data: st.DataObject) -> None:
    p = field.MODULUS
    degree = data.draw(st.integers(1, n))  # number of coefficients
    coeffs = data.draw(st.lists(st.integers(0, p - 1), min_size=degree, max_size=degree))
    values = ntt(field, coeffs, n)
    t = data.draw(st.integers(2, p - 1).filter(lambda x: pow(x, 2 * n, p) != 1))
    # Barycentric evaluation equals Horner on the coefficients.
    assert poly_eval_batched(field, [values], t) == [poly_eval(field, coeffs, t)]
    # Doubling gives the values at the 2n-th roots of unity.
    w2 = field.nth_root(2 * n)
    assert double_evaluations(field, values) == [
        poly_eval(field, coeffs, pow(w2, i, p)) for i in range(2 * n)]
    # Extending `degree` known values lands on the same polynomial.
    m = max(degree, 1)
    assert extend_values_to_power_of_2(field, values[:m], n) == values


def test_evaluating_at_a_root_of_unity_is_refused() -> None:
    with pytest.raises(VdafError, match="root of unity"):
        poly_eval_batched(Field64, [[1, 2, 3, 4]], Field64.nth_root(4))
