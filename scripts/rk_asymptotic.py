#!/usr/bin/env python3
"""Where do DOP853, Vern6, Vern7 and Vern9 reach their asymptotic convergence order on
Kepler's problem? (Why tests/test_rk_high.c checks Vern6 and Vern9 two-sided on a
weight-graded polynomial problem instead.)

Re-runs each pair with fixed steps in 40-digit arithmetic (mpmath) with its EXACT
coefficients (rational / 30-40 digit, read by scripts/gen_rk_tableaus.py from the same
sources that generate src/ode/tableau_high.inc), on the Kepler problem of the test
(eccentricity 0.6, from aphelion, T = 6, exact solution through Kepler's equation). Neither
arithmetic round-off nor the rounding of the coefficients plays any part, so the printed
errors are the truncation errors alone. For each doubling of the step count it prints the
max-norm end-point error and the local slope log2(e(n)/e(2n)), and then the largest error
at which the slopes from there on stay within 0.2 of the nominal order p (where the test's
two-sided check could pass), to compare with the double round-off level of such a run
(~1e-15 … 1e-14, |u| ~ 1, the floor seen in the test's runs).

Usage: scripts/rk_asymptotic.py DOP853_COEFFS_PY VERNER_TABLEAUS_JL
  (the two source files of gen_rk_tableaus.py: scipy/integrate/_ivp/dop853_coefficients.py
  and OrdinaryDiffEq.jl's lib/OrdinaryDiffEqVerner/src/verner_tableaus.jl at commit
  b211787f7b18d3c5391121bd8c9e2d5fee54efee); python3-mpmath; about a minute.
"""
import math
import os
import sys

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_rk_tableaus as gen  # noqa: E402  (the exact-coefficient parsers)

mp.mp.dps = 40
ECC, T = mp.mpf("0.6"), mp.mpf(6)


def f(u):
    x, y, vx, vy = u
    r3 = (x * x + y * y) ** mp.mpf(1.5)
    return [vx, vy, -x / r3, -y / r3]


def exact(t):
    M = t + mp.pi
    E = mp.findroot(lambda E: E - ECC * mp.sin(E) - M, M)
    q, d = mp.sqrt(1 - ECC * ECC), 1 - ECC * mp.cos(E)
    return [mp.cos(E) - ECC, q * mp.sin(E), -mp.sin(E) / d, q * mp.cos(E) / d]


def mpf(x):
    return mp.mpf(x.numerator) / x.denominator


def solve(tab, n):
    ns = tab['stages']
    A = [[mpf(tab['A'][i][j]) for j in range(i)] for i in range(ns)]
    b = [mpf(tab['b'][i]) for i in range(ns)]
    h = T / n
    u = exact(mp.mpf(0))
    for _ in range(n):
        k = []
        for i in range(ns):
            y = [u[m] + h * mp.fsum(A[i][j] * k[j][m] for j in range(i) if A[i][j])
                 for m in range(4)]
            k.append(f(y))
        u = [u[m] + h * mp.fsum(b[i] * k[i][m] for i in range(ns) if b[i]) for m in range(4)]
    return u


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    jl = open(sys.argv[2]).read()
    tabs = [(gen.dop853(sys.argv[1]), [128, 256, 512, 1024, 2048]),
            (gen.verner(jl, 'Vern6', 9, 12, 6, 6, 1), [128, 256, 512, 1024, 2048, 4096, 8192]),
            (gen.verner(jl, 'Vern7', 10, 16, 7, 6, 0), [128, 256, 512, 1024, 2048]),
            (gen.verner(jl, 'Vern9', 16, 26, 9, 9, 0), [32, 64, 128, 256, 512, 1024])]
    ex = exact(T)
    for tab, ns in tabs:
        p = tab['order']
        print('%s (order %d), Kepler e = 0.6, T = 6, exact coefficients, 40 digits:'
              % (tab['name'], p))
        errs, slopes = [], []
        for n in ns:
            u = solve(tab, n)
            e = max(abs(u[m] - ex[m]) for m in range(4))
            s = math.log2(float(errs[-1] / e)) if errs else None
            errs.append(e)
            slopes.append(s)
            print('  n = %5d  error %.3e%s'
                  % (n, float(e), '' if s is None else '  slope %.3f' % s))
        # first n from which every later slope is within 0.2 of p
        first = None
        for i in range(1, len(ns)):
            if all(abs(s - p) <= 0.2 for s in slopes[i:]):
                first = i - 1
                break
        if first is None:
            print('  slope not yet within 0.2 of %d at n = %d (error %.1e)'
                  % (p, ns[-1], float(errs[-1])))
        else:
            print('  slope within 0.2 of %d from n = %d on, where the error is %.1e'
                  % (p, ns[first], float(errs[first])))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
