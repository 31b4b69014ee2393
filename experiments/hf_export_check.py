#!/usr/bin/env python3
"""Checks `pare export --format hf` from the Python side (issue #11, export round trip):

  fixture folder (+ the official remote-code .py files, as a real HF folder has them)
    -> pare convert -> prune 50 % -> pare export --format hf --like <folder>
    -> safetensors: every tensor equals the pruned pare-dlm file's (read with h5py)
    -> AutoModel.from_pretrained(export, trust_remote_code=True) loads it, its weights equal
       the safetensors, and its forward runs.

Pruning is `pare prune --method magnitude` when Pare can open the converted model (it needs the
BPE tokenizer); otherwise this script zeroes the 50 % smallest of every block linear in a copy
of the pare-dlm file with h5py (the same magnitude rule, per matrix) and says so.

    OMP_NUM_THREADS=1 python3 experiments/hf_export_check.py --pare .build/debug/pare \
        --reference /work/scratch/hfref --work /tmp/hf-check
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch
from safetensors import safe_open

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "PareTests", "Fixtures", "hf")
LINEARS = ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]
# Pare name (inside block N) -> Dream name; LLaDA names are Pare's (docs/format.md).
DREAM = {"attn_norm.weight": "input_layernorm.weight", "q_proj.weight": "self_attn.q_proj.weight",
         "k_proj.weight": "self_attn.k_proj.weight", "v_proj.weight": "self_attn.v_proj.weight",
         "q_proj.bias": "self_attn.q_proj.bias", "k_proj.bias": "self_attn.k_proj.bias",
         "v_proj.bias": "self_attn.v_proj.bias", "attn_out.weight": "self_attn.o_proj.weight",
         "ff_norm.weight": "post_attention_layernorm.weight", "ff_proj.weight": "mlp.gate_proj.weight",
         "up_proj.weight": "mlp.up_proj.weight", "ff_out.weight": "mlp.down_proj.weight"}
DREAM_GLOBAL = {"model.transformer.wte.weight": "model.embed_tokens.weight",
                "model.transformer.ln_f.weight": "model.norm.weight",
                "model.transformer.ff_out.weight": "lm_head.weight"}


def hf_name(pare, arch):
    if arch == "llada":
        return pare
    if pare in DREAM_GLOBAL:
        return DREAM_GLOBAL[pare]
    parts = pare.split(".")          # model.transformer.blocks.N.<name>.<kind>
    return f"model.layers.{parts[3]}." + DREAM[".".join(parts[4:])]


def read_pare(path):
    """Every dense tensor of a pare-dlm file as fp32, by HF-style Pare name."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.startswith("model/"):
                raw = obj[()]
                if obj.attrs.get("dtype") in (b"bfloat16", "bfloat16"):
                    raw = (raw.astype(np.uint32) << 16).view(np.float32)
                out[name.replace("/", ".")] = raw.astype(np.float32)
        f.visititems(visit)
    return out


def prune_with_h5py(src, dst):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for name in list(f["model/transformer/blocks"]):
            for lin in LINEARS:
                d = f[f"model/transformer/blocks/{name}/{lin}/weight"]
                raw = d[()]
                bf16 = d.attrs.get("dtype") in (b"bfloat16", "bfloat16")
                w = (raw.astype(np.uint32) << 16).view(np.float32) if bf16 else raw
                cut = np.sort(np.abs(w).ravel())[w.size // 2]
                raw = np.where(np.abs(w) < cut, np.zeros_like(raw), raw)
                d[...] = raw


def run(cmd):
    print("$", " ".join(cmd))
    return subprocess.run(cmd, capture_output=True, text=True)


def check(name, args):
    arch = "dream" if name.startswith("dream") else "llada"
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    like = os.path.join(work, "original")
    shutil.copytree(os.path.join(FIXTURES, name), like)
    os.remove(os.path.join(like, "golden.json"))
    for py in glob.glob(os.path.join(args.reference, arch, "*.py")):
        shutil.copy(py, like)
    converted, pruned, exported = (os.path.join(work, n) for n in ("m.h5", "pruned.h5", "export"))
    r = run([args.pare, "convert", like, "--output", converted])
    assert r.returncode == 0, r.stderr
    r = run([args.pare, "prune", "--model", converted, "--method", "magnitude", "--sparsity", "0.5", "--output", pruned])
    how = "pare prune --method magnitude"
    if r.returncode != 0:
        how = f"h5py magnitude pruning (pare prune failed: {r.stderr.strip()})"
        prune_with_h5py(converted, pruned)
    r = run([args.pare, "export", pruned, "--format", "hf", "--output", exported, "--like", like, "--max-shard-bytes", "40000"])
    assert r.returncode == 0, r.stderr
    print(r.stdout.strip())

    expected = read_pare(pruned)
    shards = sorted(glob.glob(os.path.join(exported, "*.safetensors")))
    loaded = {}
    for shard in shards:
        with safe_open(shard, framework="pt") as f:
            for k in f.keys():
                loaded[k] = f.get_tensor(k).float().numpy()
    assert set(loaded) == {hf_name(k, arch) for k in expected}, "tensor names differ"
    equal = all(np.array_equal(loaded[hf_name(k, arch)], v) for k, v in expected.items())
    zeros = np.mean([np.mean(loaded[hf_name(k, arch)] == 0) for k in expected if ".blocks." in k and k.endswith(".weight") and k.split(".")[-2] in LINEARS])

    from transformers import AutoModel
    model = AutoModel.from_pretrained(exported, trust_remote_code=True, torch_dtype=torch.float32)
    state = {k: v.float().numpy() for k, v in model.state_dict().items()}
    model_equal = all(np.array_equal(state[k], v) for k, v in loaded.items() if k in state)
    missing = [k for k in loaded if k not in state]
    model.config.use_cache = False
    with torch.no_grad():
        logits = model(torch.tensor([[5, 17, 101, 42, 9]])).logits
    result = {"fixture": name, "pruning": how, "shards": len(shards), "tensors": len(loaded),
              "safetensors_equal_to_pruned_file": bool(equal), "block_linear_zero_fraction": round(float(zeros), 4),
              "automodel_class": type(model).__name__, "automodel_weights_equal": bool(model_equal and not missing),
              "automodel_forward_finite": bool(torch.isfinite(logits).all())}
    print(json.dumps(result))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pare", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--work", default="/tmp/pare-hf-check")
    ap.add_argument("--fixtures", nargs="+", default=["llada-gqa-bf16", "dream-f32"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = [check(n, args) for n in args.fixtures]
    ok = all(r["safetensors_equal_to_pruned_file"] and r["automodel_weights_equal"] and r["automodel_forward_finite"] for r in results)
    print("ALL OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
