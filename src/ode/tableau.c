/* Butcher tableaux, embedded error weights and continuous extensions.
 *
 * Sources:
 *  - Euler, Heun, RK4 and their continuous extensions: Hairer, Nørsett & Wanner,
 *    "Solving ODEs I", §II.1 and §II.6 (RK4's is the 3rd-order natural interpolant).
 *  - BS3: Bogacki & Shampine, Appl. Math. Lett. 2 (1989); btilde as in OrdinaryDiffEq;
 *    dense output is the cubic Hermite interpolant through (u_n, k1, u_{n+1}, k4).
 *  - DOPRI5: Dormand & Prince (1980); dense output of Shampine (1986) in the form of
 *    Hairer's DOPRI5 code (contd5, coefficients d1..d7).
 *  - Tsit5: Tsitouras, Comput. Math. Appl. 62 (2011); coefficients and the 4th-order
 *    interpolant as in OrdinaryDiffEq's Tsit5ConstantCache / tsit5 interpolation. */
#include "ode/tableau.h"

#include <stddef.h>

static void dense_euler(double th, double w[NDE_RK_MAX_STAGES]) { w[0] = th; }

static void dense_heun(double th, double w[NDE_RK_MAX_STAGES])
{
    w[0] = th - 0.5 * th * th;
    w[1] = 0.5 * th * th;
}

static void dense_rk4(double th, double w[NDE_RK_MAX_STAGES])
{
    double t2 = th * th, t3 = t2 * th;
    w[0] = th - 1.5 * t2 + 2.0 / 3.0 * t3;
    w[1] = t2 - 2.0 / 3.0 * t3;
    w[2] = w[1];
    w[3] = -0.5 * t2 + 2.0 / 3.0 * t3;
}

/* Cubic Hermite in θ: u_n + θΔ + θ(θ−1)[(1−2θ)Δ + (θ−1)h k1 + θ h k4], Δ = h Σ b_i k_i. */
static void dense_bs3(double th, double w[NDE_RK_MAX_STAGES])
{
    static const double b[4] = {2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0};
    double g = th * (th - 1.0);
    for (int i = 0; i < 4; i++) w[i] = th * b[i] + g * (1.0 - 2.0 * th) * b[i];
    w[0] += g * (th - 1.0);
    w[3] += g * th;
}

/* Hairer's contd5 written as weights on the stages:
 * u(θ) = u_n + θΔ + θ(1−θ)[h k1 − Δ + θ(2Δ − h k1 − h k7 + (1−θ) h Σ d_i k_i)]. */
static void dense_dopri5(double th, double w[NDE_RK_MAX_STAGES])
{
    static const double b[7] = {35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0,
                                -2187.0 / 6784.0, 11.0 / 84.0, 0.0};
    static const double d[7] = {-12715105075.0 / 11282082432.0, 0.0,
                                87487479700.0 / 32700410799.0, -10690763975.0 / 1880347072.0,
                                701980252875.0 / 199316789632.0, -1453857185.0 / 822651844.0,
                                69997945.0 / 29380423.0};
    double g = th * (1.0 - th);
    for (int i = 0; i < 7; i++)
        w[i] = th * b[i] + g * (-b[i] + th * (2.0 * b[i] + (1.0 - th) * d[i]));
    w[0] += g * (1.0 - th);
    w[6] -= g * th;
}

/* b_i(θ) = r_i1 θ + r_i2 θ² + r_i3 θ³ + r_i4 θ⁴ (Tsitouras 2011, Table of r coefficients). */
static void dense_tsit5(double th, double w[NDE_RK_MAX_STAGES])
{
    static const double r[7][4] = {
        {1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216},
        {0.0, 0.13169999999999998, -0.2234, 0.1017},
        {0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253},
        {0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902},
        {0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928},
        {0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661},
        {0.0, 1.5, -4.0, 2.5},
    };
    for (int i = 0; i < 7; i++)
        w[i] = th * (r[i][0] + th * (r[i][1] + th * (r[i][2] + th * r[i][3])));
}

static const nde_tableau tableaux[] = {
    {
        .method = NDE_EULER, .name = "euler", .stages = 1, .order = 1, .est_order = 0,
        .b = {1.0}, .stiff_i = -1, .stiff_j = -1, .dense = dense_euler,
    },
    {
        .method = NDE_HEUN, .name = "heun", .stages = 2, .order = 2, .est_order = 0,
        .c = {0.0, 1.0}, .a = {{0}, {1.0}}, .b = {0.5, 0.5},
        .stiff_i = -1, .stiff_j = -1, .dense = dense_heun,
    },
    {
        .method = NDE_RK4, .name = "rk4", .stages = 4, .order = 4, .est_order = 0,
        .c = {0.0, 0.5, 0.5, 1.0},
        .a = {{0}, {0.5}, {0.0, 0.5}, {0.0, 0.0, 1.0}},
        .b = {1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0},
        .stiff_i = -1, .stiff_j = -1, .dense = dense_rk4,
    },
    {
        .method = NDE_BS3, .name = "bs3", .stages = 4, .order = 3, .est_order = 2, .fsal = 1,
        .c = {0.0, 0.5, 0.75, 1.0},
        .a = {{0}, {0.5}, {0.0, 0.75}, {2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0}},
        .b = {2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0},
        .btilde = {2.0 / 9.0 - 7.0 / 24.0, 1.0 / 3.0 - 1.0 / 4.0, 4.0 / 9.0 - 1.0 / 3.0,
                   -1.0 / 8.0},
        .stiff_i = 3, .stiff_j = 2, .beta1 = 0.7 / 3.0, .beta2 = 0.4 / 3.0,
        .dense = dense_bs3,
    },
    {
        .method = NDE_DOPRI5, .name = "dopri5", .stages = 7, .order = 5, .est_order = 4,
        .fsal = 1,
        .c = {0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0},
        .a = {{0},
              {0.2},
              {3.0 / 40.0, 9.0 / 40.0},
              {44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0},
              {19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0},
              {9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0,
               -5103.0 / 18656.0},
              {35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0,
               11.0 / 84.0}},
        .b = {35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0,
              0.0},
        .btilde = {35.0 / 384.0 - 5179.0 / 57600.0, 0.0, 500.0 / 1113.0 - 7571.0 / 16695.0,
                   125.0 / 192.0 - 393.0 / 640.0, -2187.0 / 6784.0 + 92097.0 / 339200.0,
                   11.0 / 84.0 - 187.0 / 2100.0, -1.0 / 40.0},
        .stiff_i = 6, .stiff_j = 5, .beta1 = 0.17, .beta2 = 0.04, .dense = dense_dopri5,
    },
    {
        .method = NDE_TSIT5, .name = "tsit5", .stages = 7, .order = 5, .est_order = 4,
        .fsal = 1,
        .c = {0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0},
        .a = {{0},
              {0.161},
              {-0.008480655492356989, 0.335480655492357},
              {2.8971530571054935, -6.359448489975075, 4.3622954328695815},
              {5.325864828439257, -11.748883564062828, 7.4955393428898365,
               -0.09249506636175525},
              {5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
               -0.028269050394068383},
              {0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742,
               -3.290069515436081, 2.324710524099774}},
        .b = {0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742,
              -3.290069515436081, 2.324710524099774, 0.0},
        .btilde = {-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995,
                   -0.1447110071732629, 0.5823571654525552, -0.45808210592918697,
                   1.0 / 66.0},
        .stiff_i = 6, .stiff_j = 5, .beta1 = 0.7 / 5.0, .beta2 = 0.4 / 5.0,
        .dense = dense_tsit5,
    },
};

const nde_tableau *nde_tableau_get(nde_method m)
{
    for (size_t i = 0; i < sizeof tableaux / sizeof tableaux[0]; i++)
        if (tableaux[i].method == m) return &tableaux[i];
    return NULL;
}
