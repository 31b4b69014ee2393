#!/usr/bin/env python3
"""Pare's decode loop against the same sampler in plain PyTorch eager, on the same weights.

What a researcher would write instead of using Pare: the LLaDA forward pass of
docs/algorithms.md §1 (RMSNorm, rotate-half RoPE, bidirectional SDPA attention, SwiGLU) and
the fixed sampler of §3 (argmax without the mask id, softmax confidence, confidence order with
ties to the smaller position, floor(M/s) + remainder commits per step), with weights read from
the pare-dlm file by h5py. Both sides decode the same prompts in the same batches; the script
checks that the generated tokens are identical and prints the time ratio torch / pare.

Runs alternate (pare, torch, pare, torch, ...) so machine noise hits both sides alike; each
side is timed on its decode only (model load and process start excluded; Pare's time is
`pare bench generate --repeats 1`). The bundled workload warms both sides with a whole decode;
the LLaDA-shaped one (minutes per decode) warms torch with one forward pass and Pare not at all.

Workloads (issue #14):
  bundled   the bundled model, 256 rev prompts of the test split, batch 64, gen length 12, 12 steps
  llada     a random LLaDA-shaped model (d_model 2048, 16 heads, d_ff 5632, 4 blocks, vocab 32000),
            8 random prompts of 64 tokens, gen length 64, 16 steps (4 tokens per step: each step is a
            full forward pass over 1,024 tokens, about 0.5 TFLOP), batch 8

Needs torch, h5py and numpy (pip); `make test` does not use this script.

  python3 bench/compare_pytorch.py [bundled|llada|all] [--runs 3] [--threads 2] [--pare PATH] [--json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- weights

def read_tensor(ds):
    """A dense pare-dlm tensor as a float32 torch tensor (float32, float16 or bfloat16 on disk)."""
    if isinstance(ds, h5py.Group):
        sys.exit(f"error: {ds.name} is stored sparse; export the model dense (pare export) first")
    raw = ds[()]
    if ds.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
        raw = (raw.astype(np.uint32) << 16).view(np.float32)
    return torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))


class LLaDA:
    """The LLaDA forward pass of docs/algorithms.md §1, plainly, in eager PyTorch."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            c = dict(f["config"].attrs)
            self.vocab, self.d = int(c["vocab_size"]), int(c["d_model"])
            self.n_layers, self.n_heads, self.n_kv = int(c["n_layers"]), int(c["n_heads"]), int(c["n_kv_heads"])
            self.eps, self.theta = float(c["norm_eps"]), float(c["rope_theta"])
            self.max_seq, self.mask_id = int(c["max_seq_len"]), int(c["mask_token_id"])
            t = f["model/transformer"]
            self.wte, self.ln_f, self.head = read_tensor(t["wte/weight"]), read_tensor(t["ln_f/weight"]), read_tensor(t["ff_out/weight"])
            names = ["attn_norm", "q_proj", "k_proj", "v_proj", "attn_out", "ff_norm", "ff_proj", "up_proj", "ff_out"]
            self.blocks = [{n: read_tensor(t[f"blocks/{i}/{n}/weight"]) for n in names} for i in range(self.n_layers)]
        self.head_dim = self.d // self.n_heads
        half = self.head_dim // 2
        # RoPE tables in float64, rounded to float32 (as Pare computes them).
        inv = self.theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.head_dim)
        ang = torch.arange(self.max_seq, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang).float(), torch.sin(ang).float()

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def rope(self, x):  # x [b, h, t, hd]
        half, t = self.head_dim // 2, x.shape[2]
        cos, sin = self.cos[:t], self.sin[:t]
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def logits(self, ids, key_mask, rows):
        """ids [b, t]; key_mask [b, t] bool (True = real token) or None; rows [b, L] positions -> [b, L, vocab]."""
        b, t = ids.shape
        x = self.wte[ids]
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        rep = self.n_heads // self.n_kv
        for blk in self.blocks:
            h = self.rms(x, blk["attn_norm"])
            q = (h @ blk["q_proj"].T).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
            k = (h @ blk["k_proj"].T).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
            v = (h @ blk["v_proj"].T).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
            q, k = self.rope(q), self.rope(k)
            if rep > 1:
                k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # bidirectional
            x = x + a.transpose(1, 2).reshape(b, t, self.d) @ blk["attn_out"].T
            h = self.rms(x, blk["ff_norm"])
            x = x + (F.silu(h @ blk["ff_proj"].T) * (h @ blk["up_proj"].T)) @ blk["ff_out"].T
        x = self.rms(x, self.ln_f)
        gen = torch.gather(x, 1, rows[:, :, None].expand(-1, -1, self.d))  # the generation regions only
        return gen @ self.head.T


@torch.inference_mode()
def fixed_sampler(model, prompts, gen_length, steps):
    """The fixed sampler (docs/algorithms.md §3, block length = gen length) on one batch of prompts."""
    b, L, mask = len(prompts), gen_length, model.mask_id
    lengths = torch.tensor([len(p) for p in prompts])
    t = int(lengths.max()) + L
    canvas = torch.full((b, t), mask, dtype=torch.long)
    for i, p in enumerate(prompts):
        canvas[i, :len(p)] = torch.tensor(p)
    # Right padding keeps every canvas's positions 0..P+L-1; padded keys are masked out.
    key_mask = None if bool((lengths == lengths[0]).all()) else torch.arange(t)[None, :] < (lengths + L)[:, None]
    rows = lengths[:, None] + torch.arange(L)[None, :]  # [b, L]
    masked_at_start = L
    for j in range(steps):
        logits = model.logits(canvas, key_mask, rows)  # [b, L, V]
        probs = torch.softmax(logits, dim=-1)
        no_mask = logits.clone()
        no_mask[..., mask] = -float("inf")
        cand = no_mask.argmax(-1)  # ties: the first (lowest) id
        conf = torch.gather(probs, 2, cand[..., None])[..., 0]
        region = torch.gather(canvas, 1, rows)
        conf = torch.where(region == mask, conf, torch.full_like(conf, -float("inf")))
        k = masked_at_start // steps + (1 if j < masked_at_start % steps else 0)
        if k == 0:
            continue
        order = torch.sort(conf, dim=1, descending=True, stable=True).indices[:, :k]  # ties: smaller position
        pos = torch.gather(rows, 1, order)
        canvas.scatter_(1, pos, torch.gather(cand, 1, order))
    return torch.gather(canvas, 1, rows).tolist()


def torch_decode(model, prompts, batch, gen_length, steps):
    out = []
    for s in range(0, len(prompts), batch):
        out += fixed_sampler(model, prompts[s:s + batch], gen_length, steps)
    return out


# ----------------------------------------------------------------------------- runs

def run_pare(pare, model_path, args, warmups):
    cmd = [pare, "bench", "generate", "--model", model_path, "--json", "--print-tokens", "--repeats", "1",
           "--warmups", str(warmups)] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def workload(name, pare, scratch):
    # warm: whole warm-up decodes on both sides (the bundled model's decode takes a second);
    # the LLaDA-shaped decode takes minutes, so there one forward pass warms torch and Pare's
    # first (timed) decode includes its own first touches.
    if name == "bundled":
        return os.path.join(ROOT, "models/pare-tiny.h5"), dict(batch=64, gen=12, steps=12, warm=True), \
            ["--task", "rev", "--samples", "256", "--batch-size", "64", "--gen-length", "12", "--steps", "12"]
    path = os.path.join(scratch, "llada-shaped-2048x4.h5")
    if not os.path.exists(path):
        print(f"writing the random LLaDA-shaped model to {path}", file=sys.stderr)
        subprocess.run([pare, "init", "--output", path, "--d-model", "2048", "--n-heads", "16", "--d-ff", "5632",
                        "--n-layers", "4", "--vocab", "32000", "--max-seq-len", "128", "--seed", "1"], check=True)
    return path, dict(batch=8, gen=64, steps=16, warm=False), \
        ["--random-prompt-length", "64", "--samples", "8", "--batch-size", "8", "--gen-length", "64", "--steps", "16"]


def compare(name, pare, runs, scratch):
    path, w, pare_args = workload(name, pare, scratch)
    model = LLaDA(path)
    pare_times, torch_times, identical = [], [], True
    prompts = None
    for r in range(runs):
        p = run_pare(pare, path, pare_args, 1 if w["warm"] else 0)
        pare_times.append(p["wall_seconds"])
        prompts = p["prompt_ids"]
        torch_decode(model, prompts[:w["batch"]], w["batch"], w["gen"], w["steps"] if w["warm"] else 1)  # warm-up
        t0 = time.perf_counter()
        tokens = torch_decode(model, prompts, w["batch"], w["gen"], w["steps"])
        torch_times.append(time.perf_counter() - t0)
        same = sum(a == b for a, b in zip(tokens, p["generations"]))
        identical &= same == len(tokens)
        print(f"{name} run {r + 1}/{runs}: pare {pare_times[-1]:.3f} s, torch {torch_times[-1]:.3f} s, "
              f"identical sequences {same}/{len(tokens)}", file=sys.stderr)
    pm, tm = statistics.median(pare_times), statistics.median(torch_times)
    return {"workload": name, "model": path, "prompts": len(prompts), "batch": w["batch"], "gen_length": w["gen"],
            "steps": w["steps"], "pare_seconds": pare_times, "torch_seconds": torch_times,
            "pare_median": pm, "torch_median": tm, "ratio_torch_over_pare": tm / pm, "identical_tokens": identical}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", nargs="?", default="all", choices=["bundled", "llada", "all"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (Pare uses every core)")
    ap.add_argument("--pare", default=os.path.join(ROOT, ".build/release/pare"))
    ap.add_argument("--scratch", default=os.path.join(ROOT, ".build/compare-pytorch"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.runs < 1:
        sys.exit("error: --runs must be at least 1")
    if not os.access(a.pare, os.X_OK):
        sys.exit(f"error: no pare binary at {a.pare} (run `swift build -c release` or pass --pare)")
    os.makedirs(a.scratch, exist_ok=True)
    torch.set_num_threads(a.threads)
    results = [compare(n, a.pare, a.runs, a.scratch) for n in (["bundled", "llada"] if a.which == "all" else [a.which])]
    if a.json:
        print(json.dumps({"torch": torch.__version__, "threads": a.threads, "results": results}))
    else:
        print(f"torch {torch.__version__}, {a.threads} threads; median of {a.runs} runs")
        print(f"{'workload':<10} {'pare s':>8} {'torch s':>8} {'torch/pare':>11}  tokens")
        for r in results:
            print(f"{r['workload']:<10} {r['pare_median']:8.3f} {r['torch_median']:8.3f} {r['ratio_torch_over_pare']:11.2f}  "
                  f"{'identical' if r['identical_tokens'] else 'DIFFERENT'}")
    if not all(r["identical_tokens"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
