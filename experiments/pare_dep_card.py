#!/usr/bin/env python3
"""The pare-dep model card tables (models/pare-dep.md): accuracy, NFE and decode order per
dependent-token task, for the dense model and its Wanda-50 and drop-2 versions, under five
samplers. Runs `pare prune`, `pare drop` and `pare eval --json`; writes the markdown tables to
reports/pare-dep-card.md and prints them.

    make model-dep-card            # or: python3 experiments/pare_dep_card.py [--model M] [--samples N]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ["perm", "hops", "carry"]
SAMPLERS = [  # (label, eval options)
    ("one token per step", []),
    ("--steps 1", ["--steps", "1"]),
    ("threshold 0.9", ["--sampler", "threshold", "--threshold", "0.9"]),
    ("factor 1.0", ["--sampler", "factor", "--factor", "1.0"]),
    ("Prophet", ["--prophet"]),
]


def run(pare, args):
    print("$ pare " + " ".join(args), file=sys.stderr)
    done = subprocess.run([pare] + args, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"pare {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pare", default=str(ROOT / ".build/release/pare"))
    ap.add_argument("--model", default="models/pare-dep.h5")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--out", default=".build/pare-dep-card")
    ap.add_argument("--report", default="reports/pare-dep-card.md")
    a = ap.parse_args()
    out = ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    calib = ["--calibration-tasks", ",".join(TASKS)]
    wanda, drop = str(out / "wanda-50.h5"), str(out / "drop-2.h5")
    run(a.pare, ["prune", "--model", a.model, "--sparsity", "0.5", "--method", "wanda", *calib, "--output", wanda])
    dropped = json.loads(run(a.pare, ["drop", "--model", a.model, "--count", "2", "--by", "block-influence", *calib,
                                      "--output", drop, "--json"]))
    models = [("dense", a.model), ("wanda 50 %", wanda), (f"drop 2 (blocks {','.join(map(str, dropped['dropped']))})", drop)]

    results = {}
    for mlabel, path in models:
        for slabel, opts in SAMPLERS:
            text = run(a.pare, ["eval", "--model", path, "--tasks", ",".join(TASKS), "--samples", str(a.samples), "--json", *opts])
            results[(mlabel, slabel)] = json.loads(text)["tasks"]

    def pct(x):
        return f"{100 * x:.1f} %"

    lines = [f"Model `{a.model}`; {a.samples} test samples per task (seed 0); generation length 32; "
             "Wanda and drop calibrated on 128 training samples of perm, hops and carry "
             "(`python3 experiments/pare_dep_card.py`).", "",
             "Accuracy (perm: validity) and mean NFE per task:", "",
             "| model | sampler | " + " | ".join(f"{t} acc. | {t} NFE" for t in TASKS) + " | mean acc. |",
             "|---|---|" + "---:|---:|" * len(TASKS) + "---:|"]
    for mlabel, _ in models:
        for slabel, _ in SAMPLERS:
            r = results[(mlabel, slabel)]
            cells = " | ".join(f"{pct(r[t]['accuracy'])} | {r[t]['nfe_mean']:.2f}" for t in TASKS)
            mean = sum(r[t]["accuracy"] for t in TASKS) / len(TASKS)
            lines.append(f"| {mlabel} | {slabel} | {cells} | {pct(mean)} |")
    lines += ["", "Decode order per task: leftmost share / Spearman step-vs-position (n/a: one step) / "
              "Prophet's mean commit step (when it fired; docs/algorithms.md §3.9):", "",
              "| model | sampler | " + " | ".join(TASKS) + " |", "|---|---|" + "---|" * len(TASKS)]
    for mlabel, _ in models:
        for slabel, _ in SAMPLERS:
            r = results[(mlabel, slabel)]
            cells = []
            for t in TASKS:
                d = r[t]["decode_order"]
                rho = "n/a" if d["spearman"] is None else f"{d['spearman']:.2f}"
                cell = f"{d['leftmost_share']:.2f} / {rho}"
                if d["prophet_step_mean"] is not None:
                    cell += f" / step {d['prophet_step_mean']:.1f} ({pct(d['prophet_share'])})"
                cells.append(cell)
            lines.append(f"| {mlabel} | {slabel} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (ROOT / a.report).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
