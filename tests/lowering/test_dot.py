"""`tt.dot` lowering (`lowering/ops/dot.py`): operands staged in stack buffers, against torch."""
import pytest
import torch
import triton
import triton.language as tl

from turbine_triton.lowering.pipeline import lower
from turbine_triton.triton_frontend.capture import capture_jit


@triton.jit
def masked_matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, PAD: tl.constexpr,
                         BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    acc = tl.zeros([BM, BN], dtype=tl.float32)
    for k0 in range(0, K, BK):
        rk = k0 + tl.arange(0, BK)
        a = tl.load(a_ptr + rm[:, None] * K + rk[None, :], (rm[:, None] < M) & (rk[None, :] < K), other=PAD)
        b = tl.load(b_ptr + rk[:, None] * N + rn[None, :], (rk[:, None] < K) & (rn[None, :] < N), other=PAD)
        acc = tl.dot(a, b, acc)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc, (rm[:, None] < M) & (rn[None, :] < N))


def _padded_reference(a, b, pad, bk):
    """a @ b over K rounded up to a multiple of bk, the extra columns of a and rows of b = pad."""
    M, K = a.shape
    kp = triton.cdiv(K, bk) * bk
    ap = torch.full((M, kp), pad, dtype=torch.float64)
    bp = torch.full((kp, b.shape[1]), pad, dtype=torch.float64)
    ap[:, :K], bp[:K] = a.double(), b.double()
    return ap @ bp


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_masked_tiles_staged_for_the_dot_keep_their_padding(dtype):
    """Edge tiles load `other` where masked off: a nonzero pad must reach the product."""
    M, N, K = 37, 45, 50
    a, b = torch.randn(M, K).to(dtype), torch.randn(K, N).to(dtype)
    c = torch.full((M, N), -1.0)
    grid = (triton.cdiv(M, 16), triton.cdiv(N, 32))
    masked_matmul_kernel[grid](a, b, c, M, N, K, PAD=0.5, BM=16, BN=32, BK=16)
    ref = _padded_reference(a, b, 0.5, 16).float()
    tol = 1e-4 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(c, ref, atol=tol * K, rtol=tol)


def test_a_tall_result_tile_is_stored_by_rows_in_a_loop():
    """A 128-row result tile (more rows than stores unroll) lands right, masked edges included."""
    M, N, K = 150, 40, 24
    a, b = torch.randn(M, K), torch.randn(K, N)
    c = torch.full((M, N), -1.0)
    masked_matmul_kernel[(triton.cdiv(M, 128), triton.cdiv(N, 32))](a, b, c, M, N, K, PAD=0.0,
                                                                      BM=128, BN=32, BK=16)
    torch.testing.assert_close(c, a @ b, atol=1e-4, rtol=1e-4)
    mlir = lower(capture_jit(masked_matmul_kernel, a, b, c, M, N, K, PAD=0.0, BM=128, BN=32, BK=16)).mlir
    assert mlir.count("vector.maskedstore") == 1    # one row store in a loop, not 128 unrolled


def test_loads_feeding_only_the_dot_are_multiplied_from_stack_buffers():
    """No block vector of A or B is written into the matmul's operand tensors: both come
    from the buffers the loads filled."""
    a, b, c = torch.randn(64, 64), torch.randn(64, 64), torch.empty(64, 64)
    mlir = lower(capture_jit(masked_matmul_kernel, a, b, c, 64, 64, 64, PAD=0.0, BM=32, BN=32, BK=16)).mlir
    assert mlir.count("iree_codegen.load_from_buffer") == 2
    assert "vector<32x16xf32>, tensor<32x16xf32>" not in mlir
    assert "vector<16x32xf32>, tensor<16x32xf32>" not in mlir



@triton.jit
def invariant_a_kernel(a_ptr, b_ptr, c_ptr, R: tl.constexpr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    # A is loaded once, before the loop; each step multiplies it by another B slab
    rm, rn, rk = tl.arange(0, M), tl.arange(0, N), tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    acc = tl.zeros([M, N], dtype=tl.float32)
    for r in range(R):
        b = tl.load(b_ptr + r * K * N + rk[:, None] * N + rn[None, :])
        acc += tl.dot(a, b)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc)


def test_a_tile_loaded_before_the_loop_serves_every_step():
    a, b = torch.randn(32, 16).to(torch.bfloat16), torch.randn(3, 16, 32).to(torch.bfloat16)
    c = torch.empty(32, 32)
    invariant_a_kernel[(1,)](a, b, c, R=3, M=32, N=32, K=16)
    ref = sum(a.float() @ b[r].float() for r in range(3))
    torch.testing.assert_close(c, ref, atol=1e-3, rtol=1e-3)
    mlir = lower(capture_jit(invariant_a_kernel, a, b, c, R=3, M=32, N=32, K=16)).mlir
    assert mlir.count("iree_codegen.load_from_buffer") == 2   # both operands staged
