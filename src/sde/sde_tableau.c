/* Stochastic Runge–Kutta tableaux in one generic form (see sde_internal.h).
 *
 * Sources of the numbers:
 *  - SRIW1: A. Rößler, "Runge–Kutta methods for the strong approximation of solutions of
 *    stochastic differential equations", SIAM J. Numer. Anal. 48 (2010), table 5.1 (as
 *    written out in StochasticDiffEq.jl src/perform_step/sri.jl, SRIW1ConstantCache).
 *  - SOSRI, SOSRI2, SOSRA: C. Rackauckas & Q. Nie, "Stability-optimized high order methods
 *    and stiffness detection for pathwise stiff stochastic differential equations",
 *    IEEE HPEC 2020 (arXiv 1804.04344); the digits are those of StochasticDiffEq.jl
 *    src/caches/rossler_caches.jl (SOSRIConstantCache, SOSRI2ConstantCache) and
 *    src/caches/sra_caches.jl (SOSRAConstantCache), commit e014b52 (2026-05-12).
 *  - SRA1: Rößler (2010), table 6.1 (StochasticDiffEq src/perform_step/sra.jl, SRA1).
 *  - Derivative-free Milstein: Kloeden & Platen, "Numerical Solution of SDEs", (11.1.5).
 * Only coefficients are transcribed; the code is nde's. */
#include "sde/sde_internal.h"

/* Four-stage SRI in StochasticDiffEq's FourStageSRI naming: a0ij → a0[i-1][j-1] etc. */
#define SRI4(a021, a031, a032, a041, a042, a043, a121, a131, a132, a141, a142, a143, b021,     \
             b031, b032, b041, b042, b043, b121, b131, b132, b141, b142, b143, al1, al2, al3,  \
             al4, c02, c03, c04, c11, c12, c13, c14, be11, be12, be13, be14, be21, be22, be23, \
             be24, be31, be32, be33, be34, be41, be42, be43, be44)                             \
    .a0 = {{0}, {a021}, {a031, a032}, {a041, a042, a043}},                                     \
    .b0 = {{0}, {b021}, {b031, b032}, {b041, b042, b043}},                                     \
    .a1 = {{0}, {a121}, {a131, a132}, {a141, a142, a143}},                                     \
    .b1 = {{0}, {b121}, {b131, b132}, {b141, b142, b143}}, .alpha = {al1, al2, al3, al4},      \
    .c0 = {0, c02, c03, c04}, .c1 = {c11, c12, c13, c14},                                      \
    .beta = {{be11, be12, be13, be14}, {be21, be22, be23, be24}, {be31, be32, be33, be34},     \
             {be41, be42, be43, be44}}

static const sde_tab tab_em = {
    .s0 = 1, .s1 = 1, .alpha = {1}, .beta = {{1}}, .adaptive = 0, .delta = 1};

/* ū = u + h f + √h g;  u' = u + h f + g ΔW + (g(ū) − g(u)) (ΔW² − h)/(2√h) */
static const sde_tab tab_milstein_df = {
    .s0 = 1, .s1 = 2, .a1 = {{0}, {1}}, .b1 = {{0}, {1}}, .alpha = {1},
    .beta = {{1, 0}, {-1, 1}}, .adaptive = 0, .delta = 1};

static const sde_tab tab_sriw1 = {
    .s0 = 2, .s1 = 4,
    SRI4(3.0 / 4, 0, 0, 0, 0, 0, 1.0 / 4, 1, 0, 1.0 / 4, 0, 0, 3.0 / 2, 0, 0, 0, 0, 0, 1.0 / 2,
         -1, 0, -5, 3, 1.0 / 2, 1.0 / 3, 2.0 / 3, 0, 0, 3.0 / 4, 0, 0, 0, 1.0 / 4, 1, 1.0 / 4,
         -1, 4.0 / 3, 2.0 / 3, 0, -1, 4.0 / 3, -1.0 / 3, 0, 2, -4.0 / 3, -2.0 / 3, 0, -2,
         5.0 / 3, -2.0 / 3, 1),
    .adaptive = 1, .delta = 1.0 / 6};

static const sde_tab tab_sosri = {
    .s0 = 4, .s1 = 4,
    SRI4(-0.04199224421316468, 2.842612915017106, -2.0527723684000727, 4.338237071435815,
         -2.8895936137439793, 2.3017575594644466, 0.26204282091330466, 0.20903646383505375,
         -0.1502377115150361, 0.05836595312746999, 0.6149440396332373, 0.08535117634046772,
         -0.21641093549612528, 1.5336352863679572, 0.26066223492647056, -1.0536037558179159,
         1.7015284721089472, -0.20725685784180017, -0.5119011827621657, 2.67767339866713,
         -4.9395031322250995, 0.15580956238299215, 3.2361551006624674, -1.4223118283355949,
         1.140099274172029, -0.6401334255743456, 0.4736296532772559, 0.026404498125060714,
         -0.04199224421316468, 0.7898405466170333, 3.7504010171562823, 0.0,
         0.26204282091330466, 0.05879875232001766, 0.758661169101175, -1.8453464565104432,
         2.688764531100726, -0.2523866501071323, 0.40896857551684956, 0.4969658141589478,
         -0.5771202869753592, -0.12919702470322217, 0.2093514975196336, 2.8453464565104425,
         -2.688764531100725, 0.2523866501071322, -0.40896857551684945, 0.11522663875443433,
         -0.57877086147738, 0.2857851028163886, 0.17775911990655704),
    .adaptive = 1, .delta = 1};

static const sde_tab tab_sosri2 = {
    .s0 = 4, .s1 = 4,
    SRI4(0.13804532298278663, 0.5818361298250374, 0.4181638701749618, 0.4670018408674211,
         0.8046204792187386, -0.27162232008616016, 0.45605532163856893, 0.7555807846451692,
         0.24441921535482677, 0.6981181143266059, 0.3453277086024727, -0.04344582292908241,
         0.08852381537667678, 1.0317752458971061, 0.4563552922077882, 1.73078280444124,
         -0.46089678470929774, -0.9637509618944188, 0.6753186815412179, -0.07452812525785148,
         -0.49783736486149366, -0.5591906709928903, 0.022696571806569924, -0.8984927888368557,
         -0.15036858140642623, 0.7545275856696072, 0.686995463807979, -0.2911544680711602,
         0.13804532298278663, 0.9999999999999992, 0.9999999999999994, 0.0,
         0.45605532163856893, 0.999999999999996, 0.9999999999999962, -0.45315689727309133,
         0.8330937231303951, 0.3792843195533544, 0.24077885458934192, -0.4994383733810986,
         0.9181786186154077, -0.25613778661003145, -0.16260245862427797, 1.4531568972730915,
         -0.8330937231303933, -0.3792843195533583, -0.24077885458934023, -0.4976090683622265,
         0.9148155835648892, -1.4102107084476505, 0.9930041932449877),
    .adaptive = 1, .delta = 1, .stiff = 1};

/* SRA1 in three-stage-SRA form: g1 = g(t + h), g2 = g(t); u' = u + h(k1/3 + 2k2/3)
 * + ΔW g1 + χ2 (g2 − g1). The χ2 row is E2. */
static const sde_tab tab_sra1 = {
    .s0 = 2, .s1 = 2, .a0 = {{0}, {3.0 / 4}}, .b0 = {{0}, {3.0 / 2}}, .c0 = {0, 3.0 / 4},
    .c1 = {1, 0}, .alpha = {1.0 / 3, 2.0 / 3}, .beta = {{1, 0}, {0, 0}, {-1, 1}},
    .adaptive = 1, .delta = 1};

/* SOSRA (ThreeStageSRA): beta1 → ΔW row, beta2 → χ2 row. */
static const sde_tab tab_sosra = {
    .s0 = 3, .s1 = 3,
    .a0 = {{0}, {0.6923962376159507}, {-3.1609142252828395, 4.1609142252828395}},
    .b0 = {{0}, {1.3371632704399763}, {1.442371048468624, 1.8632741501139225}},
    .c0 = {0, 0.6923962376159507, 1}, .c1 = {0, 0.041248171110700504, 1},
    .alpha = {0.2889874966892885, 0.6859880440839937, 0.025024459226717772},
    .beta = {{-16.792534242221663, 17.514995785380226, 0.27753845684143835},
             {0, 0, 0},
             {0.4237535769069274, 0.6010381474428539, -1.0247917243497813}},
    .adaptive = 1, .delta = 1};

const sde_tab *nde_sde_tableau(nde_sde_method m)
{
    switch (m) {
    case NDE_SDE_EM: return &tab_em;
    case NDE_SDE_MILSTEIN: return &tab_em; /* plus the g ∂g/∂u correction (sde.c) */
    case NDE_SDE_MILSTEIN_DF: return &tab_milstein_df;
    case NDE_SDE_SRIW1: return &tab_sriw1;
    case NDE_SDE_SOSRI: return &tab_sosri;
    case NDE_SDE_SOSRI2: return &tab_sosri2;
    case NDE_SDE_SRA1: return &tab_sra1;
    case NDE_SDE_SOSRA: return &tab_sosra;
    default: return NULL;
    }
}
