"""A kernel that records, per program, its ids, the grid and how often it ran; and what that
record must be (numpy's enumeration of the grid).  Shared by the launch-path tests."""
import itertools

import numpy as np
import triton
import triton.language as tl


@triton.jit
def ids_kernel(out_ptr):
    px, py, pz = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    nx, ny, nz = tl.num_programs(0), tl.num_programs(1), tl.num_programs(2)
    slot = ((pz * ny + py) * nx + px) * 8
    o = tl.arange(0, 8)
    v = tl.where(o == 0, px, tl.where(o == 1, py, tl.where(o == 2, pz, tl.where(o == 3, nx,
                 tl.where(o == 4, ny, tl.where(o == 5, nz, 1))))))
    # program slots are disjoint: a program run twice adds 1 to lane 6 once more
    prev = tl.load(out_ptr + slot + o)
    tl.store(out_ptr + slot + o, tl.where(o == 6, prev + 1, v))


def expected_ids(grid):
    """`ids_kernel`'s output (int32, flat) after one launch of `grid` on zeros."""
    gx, gy, gz = grid
    want = np.zeros((gz, gy, gx, 8), np.int32)
    for z, y, x in itertools.product(range(gz), range(gy), range(gx)):
        want[z, y, x] = (x, y, z, gx, gy, gz, 1, 1)
    return want.reshape(-1)
