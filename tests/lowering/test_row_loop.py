"""Big tiles (many rows, or many gathered lanes) load and store in a loop over row pieces; results vs torch."""
import pytest
import torch
import triton
import triton.language as tl


@triton.jit
def tile3d_kernel(x_ptr, y_ptr, sxb, sxm, syb, sym, n_valid, B: tl.constexpr, M: tl.constexpr, K: tl.constexpr,
                  STRIDE_K: tl.constexpr):
    b = tl.arange(0, B)[:, None, None]
    m = tl.arange(0, M)[None, :, None]
    k = tl.arange(0, K)[None, None, :]
    mask = (m * K + k) < n_valid
    x = tl.load(x_ptr + b * sxb + m * sxm + k * STRIDE_K, mask=mask, other=-1.0)
    tl.store(y_ptr + b * syb + m * sym + k * STRIDE_K, x * 2.0 + b, mask=mask)


@pytest.mark.parametrize("stride_k", [1, 2])   # unit-stride rows, or gathers/scatters
def test_big_3d_tile_masked_load_store(stride_k):
    B, M, K = 4, 128, 32            # 512 rows, 16384 lanes: both past the unrolled limits
    x = torch.randn(B, M + 3, K * stride_k + 5)
    y = torch.zeros_like(x)
    n_valid = M * K - 37
    tile3d_kernel[(1,)](x, y, x.stride(0), x.stride(1), y.stride(0), y.stride(1), n_valid,
                        B=B, M=M, K=K, STRIDE_K=stride_k)
    xs = x[:, :M, :K * stride_k:stride_k]
    lane = torch.arange(M)[:, None] * K + torch.arange(K)[None, :]
    keep = (lane < n_valid).expand(B, M, K)
    ref = torch.zeros_like(y)
    ref[:, :M, :K * stride_k:stride_k] = torch.where(keep, xs * 2.0 + torch.arange(B)[:, None, None], 0.0)
    torch.testing.assert_close(y, ref)


@triton.jit
def gather_rows_kernel(x_ptr, idx_ptr, y_ptr, R: tl.constexpr, C: tl.constexpr):
    r = tl.arange(0, R)[:, None]
    c = tl.arange(0, C)[None, :]
    src = tl.load(idx_ptr + r)                      # data-dependent rows: a gather
    v = tl.load(x_ptr + src * C + c)
    tl.store(y_ptr + r * C + c, v)


def test_big_gather_by_index():
    R, C = 128, 32                                  # 4096 gathered lanes in rows of 32
    x = torch.randn(200, C)
    idx = torch.randint(0, 200, (R,), dtype=torch.int32)
    y = torch.zeros(R, C)
    gather_rows_kernel[(1,)](x, idx, y, R=R, C=C)
    torch.testing.assert_close(y, x[idx.long()])


@triton.jit
def permute5d_kernel(x_ptr, y_ptr, s_ptr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr, D3: tl.constexpr,
                     D4: tl.constexpr):
    idx = tl.arange(0, D0 * D1 * D2 * D3 * D4).reshape(D0, D1, D2, D3, D4)
    v = tl.permute(tl.load(x_ptr + idx), [2, 1, 0, 4, 3])
    tl.store(y_ptr + tl.arange(0, D0 * D1 * D2 * D3 * D4).reshape(v.shape), v)
    r = tl.sum(tl.sum(v, 3), 1)
    tl.store(s_ptr + tl.arange(0, r.shape[0] * r.shape[1] * r.shape[2]).reshape(r.shape), r)


def test_big_5d_permute_then_reductions():
    shape = (4, 8, 8, 2, 4)                                # 2048 lanes: the looped permute
    x = torch.randint(-1000, 1000, shape, dtype=torch.int32)
    y = torch.empty(x.numel(), dtype=torch.int32)
    ref = x.permute(2, 1, 0, 4, 3)
    s = torch.empty(ref.sum(3).sum(1).numel(), dtype=torch.int32)
    permute5d_kernel[(1,)](x, y, s, *shape)
    assert torch.equal(y, ref.reshape(-1))
    assert torch.equal(s, ref.sum(3).sum(1).reshape(-1))
