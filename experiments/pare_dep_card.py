#!/usr/bin/env python3
"""The pare-dep model card tables (models/pare-dep.md): accuracy, NFE and decode order per
dependent-token task, for the dense model and its Wanda-50 and drop-2 versions, under five
samplers. Runs `pare prune`, `pare drop` and `pare eval --json`; writes the markdown tables into
models/pare-dep.md between its `<!-- card:begin -->` and `<!-- card:end -->` lines, and prints them.

    make model-dep-card            # or: python3 experiments/pare_dep_card.py [--model M] [--samples N]
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS = ["hops", "carry", "color", "spread"]
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
    ap.add_argument("--card", default="models/pare-dep.md")
    a = ap.parse_args()
    out = ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    calib = ["--calibration-tasks", ",".join(TASKS)]
    wanda, drop = str(out / "wanda-50.h5"), str(out / "drop-2.h5")
    run(a.pare, ["prune", "--model", a.model, "--sparsity", "0.5", "--method", "wanda", *calib, "--output", wanda])
    dropped = json.loads(run(a.pare, ["drop", "--model", a.model, "--count", "2", "--by", "block-influence", *calib,
                                      "--output", drop, "--json"]))
    models = [("dense", a.model), ("wanda 50 %", wanda), (f"drop 2 (blocks {','.join(map(str, dropped['dropped']))})", drop)]

    # The training stages as the model file records them (provenance): time, throughput, curve.
    info = json.loads(run(a.pare, ["inspect", "--model", a.model, "--json"]))
    training = []
    stages = [e for e in info["provenance"] if e.get("op") == "train"]
    for k, train in enumerate(stages, 1):
        curve_tasks = [t for t in TASKS if t in train["tasks"]]
        training += [f"Training stage {k} of {len(stages)} as recorded in the model's provenance "
                     f"(tasks {', '.join(curve_tasks)}): {train['steps']:,} steps of batch {train['batch_size']}, "
                     f"{train['tokens_seen']:,} tokens, {train['train_seconds'] / 60:.1f} min of training compute "
                     f"({train['tokens_per_second']:,} tokens/s); its own evaluations (64 test samples per task, "
                     "fixed sampler, one token per step):", "",
                     "| step | loss (last 50 steps) | " + " | ".join(curve_tasks) + " |",
                     "|---:|---:|" + "---:|" * len(curve_tasks)]
        for point in train["curve"]:
            if point.get("accuracy"):
                training.append(f"| {point['step']:,} | {point['loss']:.3f} | "
                                + " | ".join(f"{100 * point['accuracy'].get(t, 0):.1f} %" for t in curve_tasks) + " |")
        training.append("")

    results = {}
    for mlabel, path in models:
        for slabel, opts in SAMPLERS:
            text = run(a.pare, ["eval", "--model", path, "--tasks", ",".join(TASKS), "--samples", str(a.samples), "--json", *opts])
            results[(mlabel, slabel)] = json.loads(text)["tasks"]

    def pct(x):
        return f"{100 * x:.1f} %"

    lines = training + [f"Model `{a.model}`; {a.samples} test samples per task (seed 0); generation length 32; "
             "Wanda and drop calibrated on 128 training samples of hops, carry, color and spread "
             "(`make model-dep-card`).", "",
             "Accuracy (color, spread: validity) and mean NFE per task:", "",
             "| model | sampler | " + " | ".join(f"{t} acc. | {t} NFE" for t in TASKS) + " | mean acc. |",
             "|---|---|" + "---:|---:|" * len(TASKS) + "---:|"]
    for mlabel, _ in models:
        for slabel, _ in SAMPLERS:
            r = results[(mlabel, slabel)]
            cells = " | ".join(f"{pct(r[t]['accuracy'])} | {r[t]['nfe_mean']:.2f}" for t in TASKS)
            mean = sum(r[t]["accuracy"] for t in TASKS) / len(TASKS)
            lines.append(f"| {mlabel} | {slabel} | {cells} | {pct(mean)} |")
    dense = models[0][0]
    acc = {sl: {t: results[(dense, sl)][t]["accuracy"] for t in TASKS} for sl, _ in SAMPLERS}
    mean = {sl: sum(v.values()) / len(TASKS) for sl, v in acc.items()}
    nfe = {t: results[(dense, "threshold 0.9")][t]["nfe_mean"] for t in TASKS}
    worst = min(acc["one token per step"], key=acc["one token per step"].get)
    lines += ["", "Targets, on the dense model:", "",
              f"- at least 90 % per task with one token per step: lowest {worst} "
              f"{pct(acc['one token per step'][worst])} "
              f"({'met' if acc['one token per step'][worst] >= 0.9 else 'not met'});",
              f"- `--steps 1` loses at least 30 points of mean accuracy: "
              f"{pct(mean['one token per step'])} -> {pct(mean['--steps 1'])}, "
              f"{100 * (mean['one token per step'] - mean['--steps 1']):.1f} points "
              f"({'met' if mean['one token per step'] - mean['--steps 1'] >= 0.3 else 'not met'});",
              "- the threshold sampler (0.9) needs an NFE in the middle of 1...32: "
              + ", ".join(f"{t} {nfe[t]:.2f}" for t in TASKS)
              + f", mean {sum(nfe.values()) / len(TASKS):.2f}."]
    lines += ["", "Decode order per task: mean tokens committed per step / share of steps that commit one "
              "token / share of commits at the leftmost masked position / Spearman of commit step against "
              "position (1 = left to right; n/a: one step) / Prophet's mean commit step and how often it "
              "fired (docs/algorithms.md §3.9):", "",
              "| model | sampler | " + " | ".join(TASKS) + " |", "|---|---|" + "---|" * len(TASKS)]
    for mlabel, _ in models:
        for slabel, _ in SAMPLERS:
            r = results[(mlabel, slabel)]
            cells = []
            for t in TASKS:
                d = r[t]["decode_order"]
                rho = "n/a" if d["spearman"] is None else f"{d['spearman']:.2f}"
                hist = {int(k): v for k, v in d["commits_per_step_histogram"].items()}
                single = hist.get(1, 0) / max(1, sum(hist.values()))
                cell = f"{r[t]['tokens_per_step']:.2f} / {pct(single)} / {d['leftmost_share']:.2f} / {rho}"
                if d["prophet_step_mean"] is not None:
                    cell += f" / step {d['prophet_step_mean']:.1f} ({pct(d['prophet_share'])})"
                cells.append(cell)
            lines.append(f"| {mlabel} | {slabel} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    card = ROOT / a.card
    before, rest = card.read_text().split("<!-- card:begin -->\n", 1)
    after = rest.split("<!-- card:end -->", 1)[1]
    tmp = card.with_suffix(".md.tmp")
    tmp.write_text(before + "<!-- card:begin -->\n" + text + "<!-- card:end -->" + after)
    tmp.replace(card)
    print(text)


if __name__ == "__main__":
    main()
