"""Composed synapse matrices compute exactly what the layers compute."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnc.backends.common import sparse
from snnc.ir.layers import Conv2d, Graph, Input, Pool2d
from snnc.reference import kernels


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 3), h=st.integers(3, 8), w=st.integers(3, 8), oc=st.integers(1, 4),
       k=st.integers(1, 3), stride=st.integers(1, 2), pad=st.integers(0, 2),
       dil=st.integers(1, 2), grouped=st.booleans(), seed=st.integers(0, 999))
def test_conv_matrix_equals_convolution(c: int, h: int, w: int, oc: int, k: int, stride: int,
                                        pad: int, dil: int, grouped: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = c if grouped and oc % c == 0 else 1
    weight = rng.integers(-5, 6, (oc, c // groups, k, k))
    layer = Conv2d("c", ("x",), weight=weight.astype(np.float32), stride=(stride, stride),
                   padding=(pad, pad, pad, pad), dilation=(dil, dil), groups=groups)
    try:
        out_shape = Graph((Input("x", (), shape=(c, h, w)), layer), output="c").shape("c")
    except Exception:  # kernel larger than the padded input: nothing to compare
        return
    x = rng.integers(-3, 4, (1, c, h, w))
    want = kernels.conv2d(x, weight, None, layer.stride, layer.padding, layer.dilation, groups)
    mat = sparse.conv_matrix(weight, (c, h, w), out_shape, layer.stride, layer.padding,
                             layer.dilation, groups)
    assert np.array_equal(mat.apply(x.reshape(-1)), want.reshape(-1))


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 3), h=st.integers(2, 9), k=st.integers(1, 3), stride=st.integers(1, 3),
       pad=st.integers(0, 1), seed=st.integers(0, 999))
def test_sum_pool_matrix_equals_sum_pooling(c: int, h: int, k: int, stride: int, pad: int,
                                            seed: int) -> None:
    if pad >= k:
        return
    layer = Pool2d("p", ("x",), pool="sum", kernel=(k, k), stride=(stride, stride),
                   padding=(pad, pad, pad, pad))
    try:
        out_shape = Graph((Input("x", (), shape=(c, h, h)), layer), output="p").shape("p")
    except Exception:
        return
    x = np.random.default_rng(seed).integers(-4, 5, (1, c, h, h))
    want = kernels.pool2d(x, "sum", layer.kernel, layer.stride, layer.padding, integer=True)
    mat = sparse.sum_pool_matrix((c, h, h), out_shape, layer.kernel, layer.stride,
                                 layer.padding)
    assert np.array_equal(mat.apply(x.reshape(-1)), want.reshape(-1))


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 7), k=st.integers(1, 7), n=st.integers(1, 7), seed=st.integers(0, 999))
def test_matmul_and_add_equal_dense_arithmetic(m: int, k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, (m, k)) * (rng.random((m, k)) < 0.6)
    b = rng.integers(-3, 4, (k, n)) * (rng.random((k, n)) < 0.6)
    sa = sparse.coalesce(*np.nonzero(a), a[np.nonzero(a)], (m, k))
    sb = sparse.coalesce(*np.nonzero(b), b[np.nonzero(b)], (k, n))
    prod = sparse.matmul(sa, sb)
    assert np.array_equal(prod.to_dense(), a @ b)
    assert not np.any(prod.vals == 0)
    assert np.array_equal(sparse.add(sa, sa).to_dense(), 2 * a)
    assert np.array_equal(sa.transpose().to_dense(), a.T)


def test_dense_matrix_applies_the_weights_at_every_leading_position() -> None:
    rng = np.random.default_rng(0)
    weight = rng.integers(-4, 5, (3, 5))
    x = rng.integers(-2, 3, (4, 5))
    mat = sparse.dense_matrix(weight, lead=4)
    assert np.array_equal(mat.apply(x.reshape(-1)), (x @ weight.T).reshape(-1))


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 9), lead=st.integers(1, 3),
       dtype=st.sampled_from([np.int16, np.int32, np.int64]), seed=st.integers(0, 999))
def test_dense_matrix_keeps_the_weights_storage_and_equals_the_dense_product(
        m: int, k: int, lead: int, dtype: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weight = (rng.integers(-127, 128, (m, k)) * (rng.random((m, k)) < 0.7)).astype(dtype)
    mat = sparse.dense_matrix(weight, lead)
    assert mat.vals.dtype == dtype
    assert mat.rows.dtype == mat.cols.dtype == np.int16  # every position fits int16
    want = np.kron(np.eye(lead, dtype=np.int64), weight.astype(np.int64))
    assert np.array_equal(mat.to_dense(), want)
    assert not np.any(mat.vals == 0)
    flat = mat.rows.astype(np.int64) * mat.shape[1] + mat.cols
    assert np.all(flat[1:] > flat[:-1])  # coalesced: unique and row-major
    assert np.array_equal(mat.abs_sums(axis=1), np.abs(want).sum(axis=1))
    assert np.array_equal(mat.abs_sums(axis=0), np.abs(want).sum(axis=0))
    x = rng.integers(-1000, 1000, lead * k)
    assert np.array_equal(mat.apply(x), want @ x)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 9), seed=st.integers(0, 999))
def test_transpose_keeps_storage_types_and_sorts_row_major(m: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weight = (rng.integers(-127, 128, (m, k)) * (rng.random((m, k)) < 0.5)).astype(np.int16)
    t = sparse.dense_matrix(weight, 1).transpose()
    assert t.vals.dtype == np.int16 and t.shape == (k, m)
    assert np.array_equal(t.to_dense(), weight.T)
    flat = t.rows.astype(np.int64) * m + t.cols
    assert np.all(flat[1:] > flat[:-1])


def test_index_type_is_the_narrowest_that_holds_every_position() -> None:
    assert sparse.index_type(1, 32767) == np.int16
    assert sparse.index_type(32768) == np.int32
    assert sparse.index_type(2**31) == np.int64
