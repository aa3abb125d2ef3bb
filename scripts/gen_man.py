#!/usr/bin/env python3
"""Generate the man pages of the nde tool (docs/man/*.1) from its --help texts.

    python3 scripts/gen_man.py build/tools/nde [docs/man]

Each subcommand's page holds its usage, the --help description and every option of the
--help text, plus the hand-written sections below (examples, files, exit status). Run it
again after changing an option or a --help text, and commit the pages: they are
installed from docs/man, and tests/man_pages.sh checks that every option of --help is
in its page and that groff renders each page without a warning.
"""
import os
import re
import subprocess
import sys

COMMANDS = ["data", "train", "eval", "predict", "inspect", "steps", "info", "bench"]

SUMMARY = {
    "nde": "neural ODEs and neural operators from the command line",
    "data": "generate a Burgers, Darcy or spiral dataset",
    "train": "train a model from an INI configuration",
    "eval": "test metrics of a trained checkpoint as JSON lines",
    "predict": "predictions of a trained checkpoint",
    "inspect": "list the tensors or datasets of a file",
    "steps": "step log of an adaptive ODE solve on a reference problem",
    "info": "version, build features, methods, optimizers and activations",
    "bench": "run a benchmark program",
}

EXIT = """0 on success; 1 when the work fails (a message naming the file, the shape or the
value goes to stderr); 2 for a usage or configuration error (an unknown option, a bad
value, a wrong number of arguments), named on stderr."""

EXTRA = {
    "nde": [
        ("COMMANDS", "@commands"),
        ("EXAMPLES", """@nf
nde data burgers \\-\\-out b.h5
nde train /usr/local/share/nde/configs/burgers_fno.ini \\-\\-set data.path=b.h5
nde eval out/burgers_fno/checkpoint.safetensors b.h5
nde predict out/burgers_fno/checkpoint.safetensors b.h5 \\-\\-out pred.h5"""),
    ],
    "data": [
        ("FILES", """FILE is written atomically (under a temporary name beside it, then renamed).
An .h5 or .mat file holds every dataset of the problem; FILE.npy writes one file
per dataset, FILE_<name>.npy."""),
        ("EXAMPLES", """@nf
nde data burgers \\-\\-n 200 \\-\\-s 256 \\-\\-seed 0 \\-\\-out b.h5
nde data darcy \\-\\-n 120 \\-\\-s 33 \\-\\-out d.h5
nde data spiral \\-\\-n 200 \\-\\-s 10 \\-\\-t1 1 \\-\\-out s.h5"""),
    ],
    "train": [
        ("CONFIGURATION", """CONFIG is an INI file with the sections [model], [data], [node], [train],
[optim], [schedule], [solver], [adjoint] and [output]; docs/cli.md lists every key,
its values and its default. An unknown section or key, or a value that does not
parse, is an error naming the file, the line and the key (exit status 2). The
example configurations are installed under share/nde/configs."""),
        ("FILES", """In DIR: config.ini (the resolved configuration), checkpoint.safetensors,
metrics.jsonl (one JSON line per epoch), summary.json, summary.md, and, when
[output] plots is true and gnuplot is installed, loss.png (train loss and test
metric per epoch), nfe.png (neural ODEs: function evaluations per epoch) and
pred.png (predicted against true test samples: line plots in 1-D, heat maps of
the true and predicted fields and their error in 2-D)."""),
        ("EXAMPLES", """@nf
nde train burgers_fno.ini \\-\\-set data.path=b.h5
nde train darcy_fno.ini \\-\\-set data.path=d.h5 \\-\\-set train.epochs=50 \\-\\-out runs/a
nde train darcy_fno.ini \\-\\-set data.path=d.h5 \\-\\-set train.epochs=100 \\-\\-out runs/a \\-\\-resume"""),
    ],
    "eval": [
        ("OUTPUT", """One JSON object per metric on stdout, e.g.
@nf
{"checkpoint": "out/darcy_fno/checkpoint.safetensors", "data": "d.h5",
 "split": "test", "samples": 20, "metric": "rel_l2", "value": 0.104}
@fi
With \\-\\-plots DIR, pred.png (predicted against true test samples) is written to DIR."""),
        ("EXAMPLES", """@nf
nde eval out/burgers_fno/checkpoint.safetensors b.h5
nde eval out/burgers_fno/checkpoint.safetensors b.h5 \\-\\-split all"""),
    ],
    "predict": [
        ("EXAMPLES", """@nf
nde predict out/darcy_fno/checkpoint.safetensors d.h5 \\-\\-out pred.h5
nde inspect pred.h5 sol"""),
    ],
    "inspect": [
        ("EXAMPLES", """@nf
nde inspect out/burgers_fno/checkpoint.safetensors
nde inspect b.h5 u
nde inspect pred_u.npy"""),
    ],
    "steps": [
        ("EXAMPLES", """@nf
nde steps \\-\\-problem vdp \\-\\-mu 1000 \\-\\-method cvode_bdf > steps.csv"""),
    ],
    "info": [],
    "bench": [
        ("BENCHMARKS", "@benchlist"),
        ("FILES", """The programs are looked up beside nde in a build tree
(<build>/bench/<folder>/<program>), else under <libexecdir>/nde where meson
installs them (with \\-Dexamples=true). They are run directly (no shell)."""),
        ("EXAMPLES", """@nf
nde bench \\-\\-list
nde bench fno \\-\\-n 256 \\-\\-ntrain 100 \\-\\-epochs 1
nde bench spiral \\-\\-help"""),
    ],
}


def esc(text):
    """Roff-escape one line of plain text."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 127:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    s = "".join(out)
    if s.startswith(".") or s.startswith("'"):
        s = "\\&" + s
    return s


def run(nde, *args):
    r = subprocess.run([nde, *args], capture_output=True, text=True, check=True)
    return r.stdout


def parse_help(text):
    """usage lines, description lines, options [(spec, [help lines])]."""
    lines = text.rstrip("\n").split("\n")
    usage, about, opts = [], [], []
    i = 0
    while i < len(lines) and (lines[i].startswith("usage: ") or
                              (usage and lines[i].startswith("       "))):
        usage.append(lines[i][7:].strip())
        i += 1
    while i < len(lines) and lines[i] != "options:":
        about.append(lines[i])
        i += 1
    while about and not about[-1].strip():
        about.pop()
    i += 1
    for line in lines[i:]:
        m = re.match(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$", line)
        if m:
            opts.append((m.group(1), [m.group(2)] if m.group(2) else []))
        elif opts and line.strip():
            opts[-1][1].append(line.strip())
    return usage, about, opts


def block(text, bench_list, commands):
    """Hand-written section text: @nf/@fi switch fill off and on; @benchlist and @commands
    expand to tagged paragraphs."""
    out = []
    for line in text.split("\n"):
        if line == "@nf":
            out.append(".nf")
        elif line == "@fi":
            out.append(".fi")
        elif line == "@benchlist":
            for name, about in bench_list:
                out += [".TP", ".B " + esc(name), esc(about)]
        elif line == "@commands":
            for c in COMMANDS:
                out += [".TP", ".BR nde\\-%s (1)" % c, esc(SUMMARY[c])]
        else:
            out.append(line)  # already roff
    if ".nf" in out and out.count(".nf") > out.count(".fi"):
        out.append(".fi")
    return out


def option_spec(spec):
    """'-h, --help' → bold names and italic values."""
    parts = []
    for alt in spec.split(", "):
        words = alt.split(" ", 1)
        s = "\\fB" + esc(words[0]) + "\\fR"
        if len(words) > 1:
            s += " \\fI" + esc(words[1]) + "\\fR"
        parts.append(s)
    return ", ".join(parts)


def page(name, version, usage, about, opts, extra, bench_list):
    title = "NDE" if name == "nde" else "NDE\\-" + name.upper()
    prog = "nde" if name == "nde" else "nde\\-" + name
    out = ['.\\" Generated by scripts/gen_man.py from `nde %s--help`; edit the help text or the'
           % ("" if name == "nde" else name + " "),
           '.\\" generator, not this file.',
           '.TH %s 1 "" "nde %s" "nde manual"' % (title, version),
           ".SH NAME", "%s \\- %s" % (prog, esc(SUMMARY[name])),
           ".SH SYNOPSIS", ".nf"]
    out += [".B " + esc(u) if i == 0 and name != "nde" else esc(u) for i, u in enumerate(usage)]
    out += [".fi", ".SH DESCRIPTION"]
    para = []
    for line in about:
        if not line.strip():
            out.append(".PP")
        elif line.startswith("  "):  # an indented table line of the help text
            if not para or para[-1] != ".nf":
                out.append(".nf")
            out.append(esc(line))
            para.append(".nf")
            continue
        else:
            if para and para[-1] == ".nf":
                out.append(".fi")
            out.append(esc(line))
        para.append("")
    if para and para[-1] == ".nf":
        out.append(".fi")
    if opts:
        out.append(".SH OPTIONS")
        for spec, helps in opts:
            out += [".TP", option_spec(spec)]
            out += [esc(h) for h in helps]
    for title_, text in extra:
        out.append(".SH " + title_)
        out += block(text, bench_list, COMMANDS)
    out += [".SH EXIT STATUS"] + [esc(l) for l in EXIT.split("\n")]
    see = ["nde(1)"] if name != "nde" else []
    see += ["nde-%s(1)" % c for c in COMMANDS if c != name]
    out += [".SH SEE ALSO", ", ".join(".BR " + s for s in []) or
            ",\n".join("\\fB%s\\fR(1)" % esc(s[:-3]) for s in see) + "."]
    out.append("docs/cli.md in the nde sources.")
    return "\n".join(out) + "\n"


def main():
    nde = sys.argv[1]
    dest = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "docs", "man")
    version = run(nde, "info").split("\n")[0].split()[1]
    bench_list = [tuple(l.strip().split(None, 1)) for l in run(nde, "bench", "--list").splitlines()]
    top = run(nde, "--help").rstrip("\n").split("\n")
    usage = [l[7:].strip() for l in top if l.startswith("usage: ") or l.startswith("       ")]
    about = ["The front door of the nde library: generate datasets, train neural ODEs and",
             "neural operators from a configuration file, evaluate and run the trained",
             "checkpoints, inspect files and run the benchmarks.",
             "`nde COMMAND --help` describes each command; nde-COMMAND(1) is its page."]
    pages = {"nde": page("nde", version, usage, about, [("-h, --help", ["print this help and exit"])],
                         EXTRA["nde"], bench_list)}
    for c in COMMANDS:
        u, a, o = parse_help(run(nde, c, "--help"))
        pages["nde-" + c] = page(c, version, u, a, o, EXTRA[c], bench_list)
    os.makedirs(dest, exist_ok=True)
    for name, text in pages.items():
        with open(os.path.join(dest, name + ".1"), "w") as f:
            f.write(text)
    print("wrote %d pages to %s" % (len(pages), dest))


if __name__ == "__main__":
    main()
