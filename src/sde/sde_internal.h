/* Internal: the generic stochastic Runge–Kutta form every nde SDE method is written in.
 *
 * With χ1 = (ΔW² − h)/(2√h), χ2 = ΔW/2 + H (= I_(1,0)/h; H the space–time Lévy area of the
 * step) and χ3 = (ΔW³ − 3hΔW)/(6h), all per noise component, a step from (t, u) is
 *   X0_0 = X1_0 = u
 *   X0_i = u + h Σ_{j<i} a0[i][j] k_j + χ2 ⊙ Σ_{j<i} b0[i][j] g_j        (drift stage inputs)
 *   X1_i = u + h Σ_{j<i} a1[i][j] k_j + √h Σ_{j<i} b1[i][j] g_j          (diffusion stage inputs)
 *   k_i = f(t + c0[i] h, X0_i) (i < s0),  g_i = g(t + c1[i] h, X1_i) (i < s1)
 *   u'  = u + h Σ α_j k_j + Σ_j (β[0][j] ΔW + β[1][j] χ1 + β[2][j] χ2 + β[3][j] χ3) ⊙ g_j
 * and, for adaptive methods, StochasticDiffEq's FourStageSRI estimate
 *   E1 = h Σ_{j<s0} k_j,  E2 = Σ_j (β[2][j] χ2 + β[3][j] χ3) ⊙ g_j,
 *   err = RMS((δ E1 + E2) / (atol + rtol max(|u|, |u'|))).
 * This covers Euler–Maruyama, derivative-free Milstein, SRIW1, SOSRI(2), SRA1, SOSRA. */
#ifndef NDE_SDE_INTERNAL_H
#define NDE_SDE_INTERNAL_H

#include "nde/sde.h"

typedef struct sde_tab {
    int s0, s1; /* drift and diffusion stages (<= 4) */
    double a0[4][4], b0[4][4], a1[4][4], b1[4][4];
    double c0[4], c1[4];
    double alpha[4];
    double beta[4][4]; /* rows: ΔW, χ1, χ2, χ3 */
    int adaptive;      /* has the embedded estimate */
    double delta;      /* default δ */
    int stiff;         /* logs ‖k_{s0} − k_{s0−1}‖ / ‖X0_{s0} − X0_{s0−1}‖ (SOSRI2) */
} sde_tab;

const sde_tab *nde_sde_tableau(nde_sde_method m);

/* 1 if the method reads the space–time Lévy area H of its steps (through χ2: a drift
 * stage input or an E2 term), so its Brownian tree must carry areas; 0 for em, milstein
 * and milstein_df (a tree of W only will do) and for an unknown method. */
int nde_sde_needs_area(nde_sde_method m);

/* nde_brownian_create's depth for depth = 0. */
#define NDE_BROWNIAN_DEFAULT_DEPTH 24

/* The shallowest Brownian-tree depth (at most NDE_BROWNIAN_DEFAULT_DEPTH) whose leaves,
 * of width span/2^depth, are no wider than the shortest step (less 1e-9 of it for
 * rounding) of a fixed-step solve
 * with options o over the save times ts (the step rule of nde_sde_solve, including the
 * steps shortened to land on a save time). Then no leaf holds two step ends, so the
 * increments and space–time areas the solve uses have their exact joint law, as with
 * an infinitely deep tree. 0 (→ the default depth) for adaptive steps, bad arguments
 * or more than max_steps steps. src/sde/sde_grid.c. */
size_t nde_sde_fixed_step_depth(const nde_sde_opts *o, const double *ts, size_t nt);

#endif
