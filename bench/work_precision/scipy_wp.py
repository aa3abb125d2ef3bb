#!/usr/bin/python3
"""The scipy side of bench/work_precision: scipy.integrate.solve_ivp with RK45 and DOP853
on the problems that `work_precision` wrote to DIR/problems.jsonl (initial values, spans,
tolerances, the neural field's weights and the long-double reference end points).

    scipy_wp.py DIR

One JSON line per problem x method x tolerance on stdout, with the fields of the nde side
(impl "scipy"), plus, per problem, "reference_scipy_check": the max-norm difference between
the reference and scipy's DOP853 at rtol = atol = 100 eps (its tightest), an independent
check of the reference. The fields are written here from their formulas, not taken from nde.
"""
import json
import sys
import time
import warnings

import numpy as np
from scipy.integrate import solve_ivp

MU = 0.012277471


def arenstorf(t, y):
    mup = 1.0 - MU
    a = ((y[0] + MU) ** 2 + y[1] ** 2) ** 1.5
    b = ((y[0] - mup) ** 2 + y[1] ** 2) ** 1.5
    return np.array([y[2], y[3],
                     y[0] + 2 * y[3] - mup * (y[0] + MU) / a - MU * (y[0] - mup) / b,
                     y[1] - 2 * y[2] - mup * y[1] / a - MU * y[1] / b])


MASS = np.arange(1.0, 8.0)


def pleiades(t, y):
    x, yy = y[0:7], y[7:14]
    dx = x[None, :] - x[:, None]  # dx[i, j] = x_j - x_i
    dy = yy[None, :] - yy[:, None]
    r2 = dx * dx + dy * dy
    np.fill_diagonal(r2, 1.0)
    w = MASS[None, :] / (r2 * np.sqrt(r2))
    np.fill_diagonal(w, 0.0)
    return np.concatenate([y[14:28], (w * dx).sum(axis=1), (w * dy).sum(axis=1)])


def lotka_volterra(t, y):
    return np.array([1.5 * y[0] - y[0] * y[1], -3.0 * y[1] + y[0] * y[1]])


def neural_field(layers):
    mats = [(np.array(L["W"]).reshape(L["out"], L["in"]), np.array(L["b"]), L["tanh"])
            for L in layers]

    def f(t, y):
        a = y
        for W, b, act in mats:
            a = W @ a + b
            if act:
                a = np.tanh(a)
        return a
    return f


def field(p):
    name = p["problem"]
    if name == "neural":
        return neural_field(p["layers"])
    return {"arenstorf": arenstorf, "pleiades": pleiades, "lotka_volterra": lotka_volterra}[name]


def solve(f, p, method, tol):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy raises rtol < 100 eps to 100 eps, and says so
        sol = solve_ivp(f, (p["t0"], p["t1"]), np.array(p["y0"], dtype=float), method=method,
                        rtol=tol, atol=tol)
    sec = time.perf_counter() - t0
    return sol, sec


def main():
    out = sys.argv[1]
    for line in open(out + "/problems.jsonl"):
        p = json.loads(line)
        f = field(p)
        ref = np.array(p["reference"], dtype=float)
        sol, _ = solve(f, p, "DOP853", 1e-16)
        err = float(np.max(np.abs(sol.y[:, -1] - ref)))
        print(json.dumps({"bench": "work_precision", "problem": p["problem"],
                          "metric": "reference_scipy_check", "value": float("%.3g" % err),
                          "unit": "max abs difference of scipy DOP853 at rtol=atol=100 eps "
                                  "and the reference", "nfe": int(sol.nfev)}), flush=True)
        for method in ("RK45", "DOP853"):
            for tol in p["tols"]:
                sol, sec = solve(f, p, method, tol)
                rec = {"bench": "work_precision", "problem": p["problem"], "impl": "scipy",
                       "method": "scipy_" + method.lower(), "tol": float("%.0e" % tol)}
                if sol.status != 0:
                    rec["failed"] = sol.message
                else:
                    rec.update(nfe=int(sol.nfev), steps=int(sol.t.size - 1),
                               error=float("%.6e" % np.max(np.abs(sol.y[:, -1] - ref))),
                               seconds=float("%.6e" % sec))
                print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
