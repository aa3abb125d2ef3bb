#!/usr/bin/env python3
"""Generate src/ode/tableau_high.inc: the Butcher tableaux, error weights and dense-output
polynomials of DOP853, Vern6, Vern7 and Vern9, correctly rounded to double from exact or
high-precision sources.

Sources (transcribed, not code):
  - DOP853: E. Hairer, S. P. Nørsett, G. Wanner, "Solving ODEs I", 2nd ed., §II.10, and
    Hairer's dop853.f (30-digit coefficients). Read from the transcription shipped with
    SciPy (scipy/integrate/_ivp/dop853_coefficients.py), parsing the decimal literals as
    text so no precision is lost.
  - Vern6/7/9: J. H. Verner's "most efficient" pairs (his website,
    https://www.sfu.ca/~jverner/), rational / 40-digit forms as tabulated in SciML
    OrdinaryDiffEq.jl, lib/OrdinaryDiffEqVerner/src/verner_tableaus.jl (commit
    b211787f7b18d3c5391121bd8c9e2d5fee54efee), the generic (non-Float64) constructors.

Usage: scripts/gen_rk_tableaus.py DOP853_COEFFS_PY VERNER_TABLEAUS_JL > src/ode/tableau_high.inc
"""
import re
import sys
from decimal import Decimal, getcontext
from fractions import Fraction

getcontext().prec = 80
SQRT6 = Fraction(Decimal(6).sqrt())


# ---- DOP853 ---------------------------------------------------------------------------
def dop853(path):
    txt = open(path).read()
    ns, nx, deg = 12, 16, 7
    A = [[Fraction(0)] * nx for _ in range(nx)]
    for m in re.finditer(r'^A\[(\d+), (\d+)\] = ([-+.\deE]+)', txt, re.M):
        A[int(m.group(1))][int(m.group(2))] = Fraction(m.group(3))
    B = A[ns][:ns] + [Fraction(0)]
    E3 = list(B)
    for m in re.finditer(r'^E3\[(\d+)\] -= ([-+.\deE]+)', txt, re.M):
        E3[int(m.group(1))] -= Fraction(m.group(2))
    E5 = [Fraction(0)] * (ns + 1)
    for m in re.finditer(r'^E5\[(\d+)\] = ([-+.\deE]+)', txt, re.M):
        E5[int(m.group(1))] = Fraction(m.group(2))
    D = [[Fraction(0)] * nx for _ in range(4)]
    for m in re.finditer(r'^D\[(\d+), (\d+)\] = ([-+.\deE]+)', txt, re.M):
        D[int(m.group(1))][int(m.group(2))] = Fraction(m.group(3))
    # stage 13 (index 12) is f(t + h, u_{n+1}): row B (FSAL)
    for j in range(ns):
        assert A[ns][j] == B[j]
    # u(θ) = u_n + θ(F0 + (1−θ)(F1 + θ(F2 + (1−θ)(F3 + θ(F4 + (1−θ)(F5 + θ F6)))))),
    # F0 = Δ, F1 = h k1 − Δ, F2 = 2Δ − h(k1 + k13), F3..F6 = h D k (Hairer's contd8)
    F = [[Fraction(0)] * nx for _ in range(7)]
    for i in range(nx):
        b = B[i] if i < ns else Fraction(0)
        F[0][i] = b
        F[1][i] = (1 if i == 0 else 0) - b
        F[2][i] = 2 * b - (1 if i == 0 else 0) - (1 if i == ns else 0)
        for r in range(4):
            F[3 + r][i] = D[r][i]
    polys = []
    for i in range(nx):
        p = [F[6][i]]  # polynomial in θ, low order first
        for r in range(5, -1, -1):
            fac = [Fraction(0), Fraction(1)] if (6 - r) % 2 == 1 else [Fraction(1), Fraction(-1)]
            p = padd(pmul(p, fac), [F[r][i]])
        p = pmul(p, [Fraction(0), Fraction(1)])
        polys.append(p)
    return dict(name='dop853', enum='NDE_DOP853', stages=ns + 1, nx=nx, order=8, est_order=5,
                dense_order=deg, fsal=1, A=A, b=B + [Fraction(0)] * (nx - ns - 1),
                btilde=E5, btilde3=E3, err_kind='NDE_RK_ERR_DOP853', polys=polys,
                beta=('1.0 / 8.0', '0.0'))


def pmul(p, q):
    r = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            r[i + j] += a * b
    return r


def padd(p, q):
    n = max(len(p), len(q))
    return [(p[i] if i < len(p) else 0) + (q[i] if i < len(q) else 0) for i in range(n)]


# ---- Verner ---------------------------------------------------------------------------
def jl_funcs(src, meth):
    lines = src.split('\n')
    out, i = [], 0
    while i < len(lines):
        m = re.match(r'(@fold )?function (%s\w*)\(' % meth, lines[i])
        if m:
            hdr, j = lines[i], i
            while not re.search(r'\)\s*(where.*)?$', lines[j]) or lines[j].strip().endswith(','):
                j += 1
                hdr += lines[j]
            k = j + 1
            while lines[k] != 'end':
                k += 1
            if 'CompiledFloats' not in hdr:
                out.append('\n'.join(lines[j + 1:k]))
            i = k
        i += 1
    return out


def jl_value(expr):
    expr = ' '.join(expr.split())
    expr = re.sub(r'(?<![\w.])6\s*\^\s*\(\s*1\s*//\s*2\s*\)', 'SQRT6', expr)
    expr = re.sub(r'big"\s*([^"]*)"', lambda m: 'Fraction("%s")' % m.group(1).strip(), expr)
    expr = expr.replace('BigInt', '')
    expr = re.sub(r'(?<![\w."])(\d+)(?![\w."])', r'Fraction(\1)', expr)
    expr = expr.replace('//', '/')
    assert '^' not in expr, expr
    return eval(expr, {'Fraction': Fraction, 'SQRT6': SQRT6})


def jl_coeffs(src, meth):
    d = {}
    for body in jl_funcs(src, meth):
        for m in re.finditer(r'^\s*(\w+)\s*=\s*convert\(\s*T2?\s*,', body, re.M):
            p, depth = m.end(), 1
            while depth:
                depth += {'(': 1, ')': -1}.get(body[p], 0)
                p += 1
            d[m.group(1)] = jl_value(body[m.end():p - 1])
    return d


def stage_pair(digits):
    if len(digits) == 2:
        return int(digits[0]), int(digits[1])
    if len(digits) == 3:
        return int(digits[:2]), int(digits[2])
    return int(digits[:2]), int(digits[2:])


def verner(src, meth, ns, nx, order, dense_order, fsal):
    d = jl_coeffs(src, meth)
    A = [[Fraction(0)] * nx for _ in range(nx)]
    for k, v in d.items():
        m = re.fullmatch(r'a(\d+)', k)
        if m:
            i, j = stage_pair(m.group(1))
            assert 1 <= j < i <= nx, k
            A[i - 1][j - 1] = v
    b = [Fraction(0)] * nx
    bt = [Fraction(0)] * nx
    for k, v in d.items():
        m = re.fullmatch(r'b(\d+)', k)
        if m:
            b[int(m.group(1)) - 1] = v
        m = re.fullmatch(r'btilde(\d+)', k)
        if m:
            bt[int(m.group(1)) - 1] = v
    if fsal:  # Vern6 lists b as its last row
        assert not any(b)
        b = A[ns - 1][:]
    deg = max(int(k[-1]) for k in d if re.fullmatch(r'r\d{3}', k))
    polys = [[Fraction(0)] * (deg + 1) for _ in range(nx)]
    for k, v in d.items():
        if re.fullmatch(r'r\d{3}', k):
            polys[int(k[1:3]) - 1][int(k[3])] = v
    return dict(name=meth.lower(), enum='NDE_' + meth.upper(), stages=ns, nx=nx, order=order,
                est_order=order - 1, dense_order=dense_order, fsal=fsal, A=A, b=b, btilde=bt,
                btilde3=None, err_kind='NDE_RK_ERR_PLAIN', polys=polys,
                beta=('0.7 / %d.0' % order, '0.4 / %d.0' % order))


# ---- output ---------------------------------------------------------------------------
def dbl(x):
    f = float(x)  # correctly rounded
    s = repr(f)
    if 'e' not in s and '.' not in s:
        s += '.0'
    return s


def emit(t):
    nx, ns, A = t['nx'], t['stages'], t['A']
    c = [sum(A[i]) for i in range(nx)]
    # Shampine's stiffness estimate: the last two main stages at c = 1
    ones = [i for i in range(ns) if abs(c[i] - 1) < Fraction(1, 10**20)]
    assert len(ones) >= 2, t['name']
    si, sj = ones[-1], ones[-2]
    deg = max(len(p) for p in t['polys']) - 1
    # the interpolant at θ = 1 is the solution's weights
    for i in range(nx):
        s1 = sum(t['polys'][i])
        assert abs(s1 - t['b'][i]) < Fraction(1, 10**25), (t['name'], i, float(s1 - t['b'][i]))
    n = t['name']
    o = []
    assert deg <= 9
    o.append('static const double %s_dense_r[%d][9] = {' % (n, nx))
    for p in t['polys']:
        p = p + [Fraction(0)] * (10 - len(p))
        assert p[0] == 0
        o.append('    {%s},' % ', '.join(dbl(x) for x in p[1:]))
    o.append('};')
    o.append('static void dense_%s(double th, double w[NDE_RK_MAX_STAGES])' % n)
    o.append('{')
    o.append('    dense_poly(%s_dense_r, %d, %d, th, w);' % (n, nx, deg))
    o.append('}')
    o.append('static const nde_tableau tableau_%s = {' % n)
    o.append('    .method = %s, .name = "%s", .stages = %d, .stages_dense = %d, .order = %d,'
             % (t['enum'], n, ns, nx, t['order']))
    o.append('    .est_order = %d, .dense_order = %d, .fsal = %d, .err_kind = %s,'
             % (t['est_order'], t['dense_order'], t['fsal'], t['err_kind']))
    # Rounded row by row, the a_ij of Vern6 (up to 2e2, with cancellation) sum to their c_i
    # only within 2e-14, and b (up to 176) turns that into order-condition residuals of
    # ~1e-11 (Σ b_i Σ_j a_ij − 1/2 = −6.5e-12): an error floor of ~1e-11. For a pair where
    # Σ_i b_i (Σ_j fl(a_ij) − c_i) exceeds 1e-14, a_i1 is instead the double nearest to
    # c_i − Σ_{j>1} fl(a_ij), so that each row sums to its c_i within half an ulp of a_i1
    # (≤ 3.5e-15); as c_1 = 0 this leaves every condition Σ_j a_ij c_j^k (k ≥ 1) as it was.
    # An FSAL pair's b is its adjusted last row. Vern6: residuals ~1e-11 → ~1e-12.
    Ad = [[Fraction(float(x)) for x in A[i]] for i in range(nx)]
    bd = [Fraction(float(x)) for x in t['b'][:ns]]
    drift = sum(bd[i] * (sum(Ad[i]) - c[i]) for i in range(ns))
    if abs(drift) > Fraction(1, 10**14):
        for i in range(1, nx):
            Ad[i][0] = Fraction(float(c[i] - sum(Ad[i][1:])))
        if t['fsal']:
            bd = Ad[ns - 1][:ns]
    o.append('    .c = {%s},' % ', '.join(dbl(x) for x in c))
    o.append('    .a = {')
    for i in range(nx):
        o.append('        [%d] = {%s},' % (i, ', '.join(dbl(x) for x in Ad[i][:i])) if i else
                 '        [0] = {0},')
    o.append('    },')
    o.append('    .b = {%s},' % ', '.join(dbl(x) for x in bd))
    o.append('    .btilde = {%s},' % ', '.join(dbl(x) for x in t['btilde'][:ns]))
    if t['btilde3']:
        o.append('    .btilde3 = {%s},' % ', '.join(dbl(x) for x in t['btilde3'][:ns]))
    o.append('    .stiff_i = %d, .stiff_j = %d, .beta1 = %s, .beta2 = %s, .dense = dense_%s,'
             % (si, sj, t['beta'][0], t['beta'][1], n))
    o.append('    .dense_r = %s_dense_r, .dense_deg = %d,' % (n, deg))
    o.append('};')
    return '\n'.join(o)


def main():
    dop, jl = sys.argv[1], sys.argv[2]
    src = open(jl).read()
    tabs = [dop853(dop),
            verner(src, 'Vern6', 9, 12, 6, 6, 1),
            verner(src, 'Vern7', 10, 16, 7, 6, 0),
            verner(src, 'Vern9', 16, 26, 9, 9, 0)]
    print('/* Generated by scripts/gen_rk_tableaus.py (see its header for the sources); do not')
    print(' * edit. Every coefficient is the double nearest to the exact (or 40-digit) value,')
    print(' * except Vern6\'s first column a_i1 (and so b_1), set to make each row sum to c_i. */')
    for t in tabs:
        print(emit(t))
        print()


if __name__ == '__main__':
    main()
