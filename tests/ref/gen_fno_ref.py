#!/usr/bin/python3
"""PyTorch float32 reference of the FNO for tests/test_f32.c (the golden comparison of
issue 16). Run with Debian's /usr/bin/python3 (torch 1.13):
    /usr/bin/python3 tests/ref/gen_fno_ref.py > tests/ref/fno_ref.h

The model is written here after the legacy fourier_1d.py / fourier_2d.py of Li et al.
(fc0 on [a, grid], Fourier layers x = K(x) + W(x) with GELU between them, zero padding at
the end of each dimension in 2-D, fc1 -> GELU -> fc2), in float32 with torch.fft. Weights
come from a seeded numpy generator, rounded to float32, and are written in nde's tensor
layout (spectral weight (n_kept, cin, cout, re/im), kept mode q = row * m2 + col with rows
0..m1-1 then n1-m1..n1-1, i.e. torch's weights1 then weights2). For the cotangent gu, the
header holds u = FNO(a) computed in float32, and da = d(sum(u * gu))/da and the parameter
gradient of the same model (same float32-representable weights and inputs) computed in
float64: torch 1.13.0a0 (Debian 12's python3-torch) gives non-deterministic float32
gradients for this model (different values, up to 1e35, from run to run, even with one
thread; its float64 gradients are deterministic and its float32 forward agrees with the
float64 one to ~1e-7), so the float32 VJP of nde is checked against the float64 gradient
at float32 accuracy. Numbers are written with 9 significant digits (float32 round trip).
"""
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)


def fmt(v):
    return "%.9g" % float(v)


def arr(vals):
    return "{" + ", ".join(fmt(v) for v in np.asarray(vals).ravel()) + "}"


def case(name, ndim, n, batch, width, modes, layers, hidden, pad, seed):
    rng = np.random.default_rng(seed)
    f32 = lambda shape, s: (s * rng.standard_normal(shape)).astype(np.float32)
    lift_in = 1 + ndim
    tensors = []  # (nde name, nde-layout array)
    tensors.append(("lift.0.weight", f32((width, lift_in), 0.5)))
    tensors.append(("lift.0.bias", f32((width,), 0.1)))
    n_kept = modes[0] if ndim == 1 else 2 * modes[0] * modes[1]
    for l in range(layers):
        tensors.append((f"layer{l}.spectral.weight", f32((n_kept, width, width, 2), 0.3)))
        tensors.append((f"layer{l}.skip.weight", f32((width, width), 0.4)))
        tensors.append((f"layer{l}.skip.bias", f32((width,), 0.1)))
    tensors.append(("proj.0.weight", f32((hidden, width), 0.4)))
    tensors.append(("proj.0.bias", f32((hidden,), 0.1)))
    tensors.append(("proj.1.weight", f32((1, hidden), 0.4)))
    tensors.append(("proj.1.bias", f32((1,), 0.1)))
    A, GU = f32((batch,) + tuple(n), 1.0), f32((batch,) + tuple(n), 1.0)

    def run(dt):
        cd = torch.cfloat if dt == torch.float32 else torch.cdouble
        T = {k: torch.tensor(v, dtype=dt, requires_grad=True) for k, v in tensors}
        a = torch.tensor(A, dtype=dt, requires_grad=True)
        gu = torch.tensor(GU, dtype=dt)

        def spectral(x, w):  # x (B, C, n...), w nde layout (n_kept, cin, cout, 2)
            wc = torch.complex(w[..., 0], w[..., 1])  # (q, i, o)
            if ndim == 1:
                m = modes[0]
                xf = torch.fft.rfft(x)
                of = torch.zeros(x.shape[0], width, x.shape[-1] // 2 + 1, dtype=cd)
                of[:, :, :m] = torch.einsum("bix,xio->box", xf[:, :, :m], wc)
                return torch.fft.irfft(of, n=x.shape[-1])
            m1, m2 = modes
            wc = wc.reshape(2 * m1, m2, width, width)
            xf = torch.fft.rfft2(x)
            of = torch.zeros(x.shape[0], width, x.shape[-2], x.shape[-1] // 2 + 1, dtype=cd)
            of[:, :, :m1, :m2] = torch.einsum("bixy,xyio->boxy", xf[:, :, :m1, :m2], wc[:m1])
            of[:, :, -m1:, :m2] = torch.einsum("bixy,xyio->boxy", xf[:, :, -m1:, :m2], wc[m1:])
            return torch.fft.irfft2(of, s=(x.shape[-2], x.shape[-1]))

        def dense_cm(x, w, b):  # channel-first x (B, C, n...) -> (B, out, n...)
            y = torch.einsum("oi,bi...->bo...", w, x)
            return y + b.reshape((1, -1) + (1,) * ndim)

        grids = [torch.linspace(0, 1, k, dtype=dt) for k in n]
        if ndim == 1:
            g = grids[0].reshape(1, 1, -1).repeat(batch, 1, 1)
        else:
            gx = grids[0].reshape(1, 1, -1, 1).repeat(batch, 1, 1, n[1])
            gy = grids[1].reshape(1, 1, 1, -1).repeat(batch, 1, n[0], 1)
            g = torch.cat([gx, gy], 1)
        h = torch.cat([a.unsqueeze(1), g], 1)
        x = dense_cm(h, T["lift.0.weight"], T["lift.0.bias"])
        if pad:
            x = F.pad(x, [0, pad[1], 0, pad[0]] if ndim == 2 else [0, pad[0]])
        for l in range(layers):
            x = spectral(x, T[f"layer{l}.spectral.weight"]) + dense_cm(
                x, T[f"layer{l}.skip.weight"], T[f"layer{l}.skip.bias"])
            if l + 1 < layers:
                x = F.gelu(x)
        if pad:
            x = x[..., : n[0], : n[1]] if ndim == 2 else x[..., : n[0]]
        x = F.gelu(dense_cm(x, T["proj.0.weight"], T["proj.0.bias"]))
        u = dense_cm(x, T["proj.1.weight"], T["proj.1.bias"])[:, 0]
        (u * gu).sum().backward()
        return u.detach().numpy(), a.grad.numpy(), {k: T[k].grad.numpy() for k, _ in tensors}

    u32, _, _ = run(torch.float32)
    u64, ga, grads = run(torch.float64)
    err = np.linalg.norm(u32 - u64) / np.linalg.norm(u64)
    assert err < 1e-6, f"torch float32 forward off float64 by {err}"

    p = f"fno_ref_{name}"
    out = [f"/* {name}: {ndim}-D, n {tuple(n)}, batch {batch}, width {width}, modes {tuple(modes)}, "
           f"{layers} layers, projection hidden {hidden}, padding {tuple(pad) if pad else 0} */"]
    for i, (k, v) in enumerate(tensors):
        out.append(f"static const double {p}_t{i}[] = {arr(v)};")
        out.append(f"static const double {p}_g{i}[] = {arr(grads[k])};")
    out.append(f"static const fno_ref_tensor {p}_tensors[] = {{" + ", ".join(
        f'{{"{k}", {v.size}, {p}_t{i}, {p}_g{i}}}' for i, (k, v) in enumerate(tensors)) + "};")
    for k, v in (("a", A), ("gu", GU), ("u", u32), ("ga", ga)):
        out.append(f"static const double {p}_{k}[] = {arr(v)};")
    nn = list(n) + [0] * (2 - len(n))
    pp = list(pad) if pad else [0, 0]
    out.append(f"static const fno_ref_case {p} = {{{ndim}, {{{nn[0]}, {nn[1]}}}, {batch}, {width}, "
               f"{{{modes[0]}, {modes[1] if ndim == 2 else 0}}}, {layers}, {hidden}, "
               f"{{{pp[0]}, {pp[1]}}}, {len(tensors)}, {p}_tensors, {p}_a, {p}_gu, {p}_u, {p}_ga}};")
    return "\n".join(out)


print(f"/* Generated by tests/ref/gen_fno_ref.py (torch {torch.__version__}: u in float32, gradients in float64); do not edit. */")
print("typedef struct fno_ref_tensor {\n    const char *name;\n    size_t numel;\n"
      "    const double *value, *grad;\n} fno_ref_tensor;")
print("typedef struct fno_ref_case {\n    int ndim;\n    size_t n[2], batch, width, modes[2], layers, hidden;\n"
      "    size_t pad[2];\n    size_t n_tensors;\n    const fno_ref_tensor *tensors;\n"
      "    const double *a, *gu, *u, *ga;\n} fno_ref_case;")
print(case("1d", 1, [32], 2, 4, [4, 0], 2, 8, None, 1))
print(case("2d", 2, [12, 10], 2, 3, [2, 2], 2, 6, [3, 3], 2))
