#!/usr/bin/env python3
"""Independent numpy reference for Wanda pruning masks (golden fixture for Pare).

Spec: docs/algorithms.md §1 (LLaDA forward) and §4 (Wanda, N:M, calibration flow).
Reads ../reference/tiny-gqa.h5, writes next to this script:
  calibration.txt         16 calibration lines (the CALIBRATION list below, one per line)
  wanda-reference.json    per case: keep-masks and Wanda scaler rows r_j of all 21 block linears

Calibration is unmasked: every line is its own sequence (unpadded, positions 0..len-1,
bidirectional attention). All activations and statistics are float32, to mirror an fp32
implementation (the same flow in float64 is run as a cross-check and must give identical
masks). Deterministic: every run writes the same bytes.
"""
import json
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # fixed summation order in sgemm
import h5py  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "reference", "tiny-gqa.h5")
PREFIX = "model.transformer."
LINEARS = ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]
F32 = np.float32

# Reference-task examples with their answers (add, kv, rev, chain), 8..24 chars each.
CALIBRATION = [
    "12+34=46", "a:3,q:7,m:1?q=7", "rev:hello=olleh", "a=3;b=a+4?b=7",
    "57+68=125", "x:2,b:9?x=2", "rev:abc=cba", "a=8;b=a-5;c=b+9?c=12",
    "99+1=100", "k:5,z:0,d:4,w:8?d=4", "rev:pruning=gninurp", "a=9;b=a-3?b=6",
    "40+27=67", "c:1,e:6,g:2,h:9,j:3?h=9", "rev:wanda=adnaw", "a=5;b=a+9;c=b-2?c=12",
]

# (pattern, sparsity): unstructured s, or "N:M" = N zeroed in every M contiguous inputs.
CASES = [("unstructured", 0.5), ("unstructured", 0.3), ("2:4", None), ("3:8", None)]
MARGIN_MIN = 1e-4


# ----------------------------------------------------------------------------- model

def load_model(path):
    """Config dict, vocab list and float32 weights by HF name."""
    with h5py.File(path, "r") as h:
        cfg = {k: (v.item() if hasattr(v, "item") else v) for k, v in h["config"].attrs.items()}
        vocab = [s.decode() if isinstance(s, bytes) else s for s in h["tokenizer/vocab"][:]]
        W = {}
        h.visititems(lambda n, d: W.__setitem__(n.replace("/", "."), d[:].astype(F32))
                     if isinstance(d, h5py.Dataset) and n.startswith("model/") else None)
    return cfg, vocab, W


def rmsnorm(x, w, eps):
    """RMSNorm in x's dtype (fp32): w * x / sqrt(mean(x^2) + eps)."""
    return w * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + x.dtype.type(eps))


def block(cfg, Wb, x):
    """One LLaDA block on x [T, d], all arithmetic in x's dtype (float32; float64 for the
    cross-check). Wb: short name -> weight. Returns (y, inputs of the seven linears)."""
    F = x.dtype.type
    H, KV, eps = cfg["n_heads"], cfg["n_kv_heads"], cfg["norm_eps"]
    T, d = x.shape
    hd = d // H
    half = hd // 2
    inv_freq = cfg["rope_theta"] ** (-2.0 * np.arange(half) / hd)       # rotate-half RoPE
    ang = np.arange(T)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(ang).astype(F)[:, None, :], np.sin(ang).astype(F)[:, None, :]

    def rope(t):
        a, b = t[..., :half], t[..., half:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

    def softmax(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    X = {}
    n = rmsnorm(x, Wb["attn_norm"], eps)
    X["q_proj"] = X["k_proj"] = X["v_proj"] = n
    q = rope((n @ Wb["q_proj"].T).reshape(T, H, hd))
    k = rope((n @ Wb["k_proj"].T).reshape(T, KV, hd))
    v = (n @ Wb["v_proj"].T).reshape(T, KV, hd)
    att = np.empty((T, H, hd), F)
    for hh in range(H):                                                 # GQA, no mask
        kv = hh // (H // KV)
        att[:, hh] = softmax(q[:, hh] @ k[:, kv].T / F(math.sqrt(hd))) @ v[:, kv]
    X["attn_out"] = att.reshape(T, H * hd)
    h = x + X["attn_out"] @ Wb["attn_out"].T
    n = rmsnorm(h, Wb["ff_norm"], eps)
    X["ff_proj"] = X["up_proj"] = n
    gate = n @ Wb["ff_proj"].T
    X["ff_out"] = gate / (F(1) + np.exp(-gate)) * (n @ Wb["up_proj"].T)  # silu(gate) * up
    y = h + X["ff_out"] @ Wb["ff_out"].T
    assert all(a.dtype == F for a in [y, *X.values()])
    return y, X


# ----------------------------------------------------------------------------- Wanda (§4)

def parse_pattern(pattern):
    if pattern == "unstructured":
        return None
    N, M = map(int, pattern.split(":"))
    assert 0 < N < M
    return N, M


def wanda_mask(S, pattern, s):
    """Keep-mask (bool, True = kept) and per-row/group cut margins for scores S [out, in].
    margin = (smallest kept - largest zeroed) / largest zeroed, per row (unstructured) or per
    group (N:M); returned as [out, groups] (groups = 1 for unstructured)."""
    out, inp = S.shape
    nm = parse_pattern(pattern)
    if nm is None:
        G, N = S[:, None, :], math.floor(inp * s)   # one group = the whole row
    else:
        N, M = nm
        assert inp % M == 0
        G = S.reshape(out, inp // M, M)             # contiguous groups of M input columns
    order = np.argsort(G, axis=-1, kind="stable")   # ascending; ties: lower index first
    keep = np.ones(G.shape, bool)
    np.put_along_axis(keep, order[..., :N], False, axis=-1)
    srt = np.take_along_axis(G, order, axis=-1).astype(np.float64)
    margin = (srt[..., N] - srt[..., N - 1]) / srt[..., N - 1]
    return keep.reshape(out, inp), margin


def run_case(cfg, W, seqs, pattern, s):
    """Calibration flow: block by block, statistics from the dense block, prune all seven
    linears, re-run the pruned block to get the next block's inputs. Float32 throughout
    (the dtype of W)."""
    F = W[PREFIX + "wte.weight"].dtype.type
    xs = [W[PREFIX + "wte.weight"][ids] for ids in seqs]       # x = wte[ids]
    masks, scalers, margin = {}, {}, (math.inf, None)
    for i in range(cfg["n_layers"]):
        p = f"{PREFIX}blocks.{i}."
        Wb = {k: W[p + k + ".weight"] for k in LINEARS + ["attn_norm", "ff_norm"]}
        # Running mean per sample (b = 1), in line order, float32.
        r = {k: np.zeros(Wb[k].shape[1], F) for k in LINEARS}
        for n, x in enumerate(xs):
            _, X = block(cfg, Wb, x)
            for k in LINEARS:
                r[k] *= F(n) / F(n + 1)
                r[k] += np.sum(X[k] * X[k], axis=0) / F(n + 1)
        pruned = dict(Wb)
        for k in LINEARS:
            name = p + k + ".weight"
            S = np.abs(Wb[k]) * np.sqrt(r[k])[None, :]           # S_ij = |W_ij| sqrt(r_j)
            keep, m = wanda_mask(S, pattern, s)
            pruned[k] = np.where(keep, Wb[k], F(0))
            masks[name] = ["".join("1" if b else "0" for b in row) for row in keep]
            scalers[name] = [float(str(v)) for v in r[k]]       # shortest float32 repr
            row, grp = np.unravel_index(np.argmin(m), m.shape)
            if m[row, grp] < margin[0]:
                margin = (float(m[row, grp]), dict(linear=name, row=int(row), group=int(grp)))
        xs = [block(cfg, pruned, x)[0] for x in xs]               # inputs of block i+1
    return masks, scalers, margin


# ----------------------------------------------------------------------------- main

def check_forward(cfg, W, ids):
    """Self-check: our fp32 blocks + head match the float64 reference forward pass."""
    sys.dont_write_bytecode = True                 # leave no __pycache__ in ../reference
    sys.path.insert(0, os.path.join(HERE, "..", "reference"))
    import make_reference
    x = W[PREFIX + "wte.weight"][ids]
    for i in range(cfg["n_layers"]):
        p = f"{PREFIX}blocks.{i}."
        x = block(cfg, {k: W[p + k + ".weight"] for k in LINEARS + ["attn_norm", "ff_norm"]},
                  x)[0]
    logits = rmsnorm(x, W[PREFIX + "ln_f.weight"], cfg["norm_eps"]) @ W[PREFIX + "ff_out.weight"].T
    ref = make_reference.forward(W, ids)
    err = np.abs(logits - ref).max() / np.abs(ref).max()
    assert err < 1e-5, err


def main():
    cfg, vocab, W = load_model(MODEL)
    assert vocab == ["<eos>", "<mask>"] + list("0123456789abcdefghijklmnopqrstuvwxyz+-=:,?;")
    tok = {c: i for i, c in enumerate(vocab)}
    assert len(CALIBRATION) == 16 and all(8 <= len(t) <= 24 for t in CALIBRATION)
    seqs = [np.array([tok[c] for c in t]) for t in CALIBRATION]
    with open(os.path.join(HERE, "calibration.txt"), "w") as fh:
        fh.write("".join(t + "\n" for t in CALIBRATION))
    check_forward(cfg, W, seqs[1])

    out = {"calibration": "calibration.txt", "model": "../reference/tiny-gqa.h5", "cases": []}
    for pattern, s in CASES:
        nm = parse_pattern(pattern)
        sparsity = s if nm is None else nm[0] / nm[1]
        masks, scalers, (margin, where) = run_case(cfg, W, seqs, pattern, s)
        zeroed = sum(r.count("0") for m in masks.values() for r in m)
        total = sum(len(r) for m in masks.values() for r in m)
        print(f"{pattern:12} s={sparsity:<6} zeroed {zeroed}/{total} = {zeroed / total:.4f}  "
              f"min cut margin {margin:.3e} at {where}")
        if margin < MARGIN_MIN:
            print(f"  WARNING: margin below {MARGIN_MIN}: an fp32 implementation may flip it")
        # Cross-check: the whole flow in float64 must give the same masks.
        masks64, scalers64, _ = run_case(cfg, {k: v.astype(np.float64) for k, v in W.items()},
                                         seqs, pattern, s)
        assert masks64 == masks, f"{pattern} {s}: float64 masks differ"
        rel = max(np.max(np.abs(np.subtract(scalers[k], scalers64[k])) / scalers64[k])
                  for k in masks)
        print(f"  float64 flow: identical masks; max relative r_j difference {rel:.1e}")
        out["cases"].append({"method": "wanda", "pattern": pattern, "sparsity": sparsity,
                             "min_cut_margin": float(f"{margin:.6g}"),
                             "min_cut_margin_at": where,
                             "masks": masks, "scaler_row": scalers})
    with open(os.path.join(HERE, "wanda-reference.json"), "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
