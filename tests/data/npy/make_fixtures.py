"""Regenerate the .npy fixtures read by tests/test_io.c (run with /usr/bin/python3,
numpy 1.24). Values follow formulas the test recomputes."""
import numpy as np

np.save("f8_c_3d.npy", np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 3.0)
np.save("f4_fortran_2d.npy",
        np.asfortranarray((np.arange(12).reshape(3, 4) * 0.25).astype(np.float32)))
np.save("f8_big_endian.npy", (np.arange(6) * 1.5).astype(">f8"))
np.save("bool_2d.npy", np.array([[True, False, True], [False, True, False]]))
np.save("i8_1d.npy", np.array([-3, 0, 7, 2**40], dtype=np.int64))
np.save("u2_1d.npy", np.array([0, 1, 65535], dtype=np.uint16))
np.save("c16.npy", np.array([1 + 2j, 3 - 1j]))
np.save("nan.npy", np.array([[1.0, 2.0], [np.nan, 4.0]]))
with open("f8_v2.npy", "wb") as f:
    np.lib.format.write_array(f, np.arange(5, dtype=np.float64) - 2.0, version=(2, 0))
