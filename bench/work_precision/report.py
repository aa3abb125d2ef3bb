#!/usr/bin/python3
"""Tables, plot data and the goal check of bench/work_precision.

    report.py DIR

Reads DIR/nde.jsonl and DIR/scipy.jsonl (the JSON lines of work_precision and scipy_wp.py)
and writes
  DIR/table.md      per problem: NFE and end-point error of every method at every tolerance,
                    then the goal check
  DIR/<problem>.dat the plot data: one block per method (label line, then
                    "tol nfe error seconds"), blocks separated by two blank lines
  DIR/goal.jsonl    one JSON line per problem x tolerance <= 1e-8 (see below)
and prints table.md on stdout.

Goal check (issue 15): at every tolerance <= 1e-8 nde's best method reaches the same or a
smaller error than scipy's DOP853 with no more function evaluations. Two readings:
  same_tol   some nde method at the same tolerance has error <= and NFE <= DOP853's;
  curve      for DOP853's (NFE, error) point, the fewest NFE any nde method needs for that
             error, read off its work-precision curve (log-log linear interpolation between
             its points, no extrapolation); nfe_ratio = that / DOP853's NFE (<= 1 meets it).
"""
import json
import math
import sys


def load(path):
    rows = []
    try:
        for line in open(path):
            if line.startswith("{"):
                rows.append(json.loads(line))
    except FileNotFoundError:
        pass
    return rows


def nfe_for_error(points, err):
    """Fewest NFE on the curve [(nfe, error)] (sorted by NFE) that reaches `err`."""
    best = math.inf
    pts = sorted((p for p in points if p[1] > 0), key=lambda p: p[0])
    for n, e in pts:
        if e <= err:
            best = min(best, n)
    for (n0, e0), (n1, e1) in zip(pts, pts[1:]):
        if (e0 - err) * (e1 - err) < 0:  # crosses err between the two points
            s = (math.log(err) - math.log(e0)) / (math.log(e1) - math.log(e0))
            best = min(best, math.exp(math.log(n0) + s * (math.log(n1) - math.log(n0))))
    return best


def main():
    out = sys.argv[1]
    rows = [r for r in load(out + "/nde.jsonl") + load(out + "/scipy.jsonl") if "impl" in r]
    checks = [r for r in load(out + "/nde.jsonl") + load(out + "/scipy.jsonl")
              if "metric" in r]
    problems = []
    for r in rows:
        if r["problem"] not in problems:
            problems.append(r["problem"])
    lines = []
    goal = []
    for c in checks:
        lines.append("- %s %s: %.3g" % (c["problem"], c["metric"], c["value"]))
    lines.append("")
    for prob in problems:
        pr = [r for r in rows if r["problem"] == prob]
        methods = []
        for r in pr:
            if r["method"] not in methods:
                methods.append(r["method"])
        tols = sorted({r["tol"] for r in pr}, reverse=True)
        cell = {(r["method"], r["tol"]): r for r in pr}
        lines.append("### %s" % prob)
        lines.append("")
        lines.append("NFE / end-point error (max norm, absolute) at rtol = atol = tol")
        lines.append("")
        lines.append("| tol | " + " | ".join(methods) + " |")
        lines.append("| --- |" + " --- |" * len(methods))
        for t in tols:
            cells = []
            for m in methods:
                r = cell.get((m, t))
                if r is None:
                    cells.append("")
                elif "failed" in r:
                    cells.append("failed")
                else:
                    cells.append("%d / %.2e" % (r["nfe"], r["error"]))
            lines.append("| %.0e | %s |" % (t, " | ".join(cells)))
        lines.append("")
        # plot data
        with open("%s/%s.dat" % (out, prob), "w") as f:
            first = True
            for m in methods:
                pts = [cell[(m, t)] for t in tols if (m, t) in cell and "failed" not in cell[(m, t)]]
                if not pts:
                    continue
                if not first:
                    f.write("\n\n")
                first = False
                f.write('"%s" nfe error seconds\n' % m)
                for r in pts:
                    f.write("%.0e %d %.6e %.6e\n" % (r["tol"], r["nfe"], max(r["error"], 1e-300),
                                                   r["seconds"]))
        # goal check
        nde_methods = [m for m in methods if not m.startswith("scipy_")]
        curves = {m: [(cell[(m, t)]["nfe"], cell[(m, t)]["error"]) for t in tols
                      if (m, t) in cell and "failed" not in cell[(m, t)]] for m in nde_methods}
        glines = []
        for t in tols:
            d = cell.get(("scipy_dop853", t))
            if t > 1e-8 or d is None or "failed" in d:
                continue
            same = [m for m in nde_methods if (m, t) in cell and "failed" not in cell[(m, t)]
                    and cell[(m, t)]["error"] <= d["error"] and cell[(m, t)]["nfe"] <= d["nfe"]]
            best_m, best_n = None, math.inf
            for m in nde_methods:
                n = nfe_for_error(curves[m], d["error"])
                if n < best_n:
                    best_m, best_n = m, n
            ratio = best_n / d["nfe"] if best_m else math.inf
            g = {"bench": "work_precision_goal", "problem": prob, "tol": t,
                 "dop853_nfe": d["nfe"], "dop853_error": d["error"],
                 "same_tol_met_by": same, "curve_best_method": best_m,
                 "curve_best_nfe": None if best_m is None else round(best_n),
                 "nfe_ratio": None if best_m is None else round(ratio, 3),
                 "met": bool(same) or ratio <= 1.0}
            goal.append(g)
            glines.append("| %.0e | %d / %.2e | %s | %s | %s | %s |" % (
                t, d["nfe"], d["error"], ", ".join(same) if same else "none",
                best_m or "-", "-" if best_m is None else "%.2f" % ratio,
                "yes" if g["met"] else "no"))
        if glines:
            lines.append("Goal at tol <= 1e-8 (scipy DOP853's point vs nde's curves):")
            lines.append("")
            lines.append("| tol | DOP853 NFE / error | nde methods meeting it at the same tol | "
                         "best nde curve | NFE ratio at DOP853's error | met |")
            lines.append("| --- | --- | --- | --- | --- | --- |")
            lines.extend(glines)
            lines.append("")
    text = "\n".join(lines) + "\n"
    open(out + "/table.md", "w").write(text)
    with open(out + "/goal.jsonl", "w") as f:
        for g in goal:
            f.write(json.dumps(g) + "\n")
    sys.stdout.write(text)
    for g in goal:
        print(json.dumps(g))
    return 0


if __name__ == "__main__":
    sys.exit(main())
