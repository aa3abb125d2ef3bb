#!/usr/bin/python3
"""Writes the small MATLAB v5 test files of tests/test_mat5.c with scipy.io.savemat.

Layout of the published FNO files: Burgers `a`, `u` of shape (N, S); Darcy `coeff`,
`sol` of shape (N, S, S). Values follow closed formulas that the C test recomputes
(independent truth), so no value is stored twice:

    burgers  a[n, i]    = sin(2 pi (i + 1) / S) * (n + 1) / N      u = a / 2 + i / S
    darcy    coeff[n,i,j] = 3 + ((n + 2 i + 3 j) % 7)              sol = coeff * (i + 1) / (j + 2) / 100
    ints     int32 (2,3) [[-1,2,-3],[4,-5,6]], uint8 (1,4) 0..3, logical (2,2) [[1,0],[0,1]],
             int64 (3,) 2**40 + k, and a double with a NaN
    unsupported: cell, struct, char, complex, sparse variables; burgers_v4.mat a v4 file

Run from anywhere: /usr/bin/python3 tests/data/mat/make_mat_v5.py [OUTDIR] (default: next to this file).
"""
import os
import sys

import numpy as np
import scipy.io
import scipy.sparse

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


def burgers(N, S, dtype):
    n = np.arange(N)[:, None]
    i = np.arange(S)[None, :]
    a = np.sin(2 * np.pi * (i + 1) / S) * (n + 1) / N
    u = a / 2 + i / S
    return {"a": a.astype(dtype), "u": u.astype(dtype)}


def darcy(N, S, dtype):
    n = np.arange(N)[:, None, None]
    i = np.arange(S)[None, :, None]
    j = np.arange(S)[None, None, :]
    coeff = 3.0 + ((n + 2 * i + 3 * j) % 7)
    sol = coeff * (i + 1) / (j + 2) / 100
    return {"coeff": coeff.astype(dtype), "sol": sol.astype(dtype)}


def save(name, d, **kw):
    scipy.io.savemat(os.path.join(out, name), d, format="5", **kw)


save("burgers_v5.mat", burgers(6, 16, np.float64))
save("burgers_v5_z.mat", burgers(6, 16, np.float64), do_compression=True)
save("burgers_v5_f32.mat", burgers(6, 16, np.float32))
save("darcy_v5.mat", darcy(3, 5, np.float64))
save("darcy_v5_z_f32.mat", darcy(3, 5, np.float32), do_compression=True)
save("ints_v5.mat", {
    "i32": np.array([[-1, 2, -3], [4, -5, 6]], dtype=np.int32),
    "u8": np.arange(4, dtype=np.uint8).reshape(1, 4),
    "b": np.array([[True, False], [False, True]]),
    "i64": (2**40 + np.arange(3)).astype(np.int64),
    "nan": np.array([[1.0, np.nan]]),
})
save("unsupported_v5.mat", {
    "c": np.array([np.zeros(2), np.ones(3)], dtype=object),
    "s": {"f": np.ones(2)},
    "t": "text",
    "z": np.array([[1 + 2j, 3]]),
    "sp": scipy.sparse.eye(3, format="csc"),
    "ok": np.ones((2, 2)),
})
# a MATLAB v4 file (no text header), which nde refuses
scipy.io.savemat(os.path.join(out, "burgers_v4.mat"), burgers(2, 4, np.float64), format="4")
