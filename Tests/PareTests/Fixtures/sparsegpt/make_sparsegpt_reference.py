#!/usr/bin/env python3
"""Independent numpy reference for SparseGPT pruning (golden fixture for Pare).

Spec: docs/algorithms.md §1 (LLaDA forward), §4.3 (calibration flow), §4.8 (SparseGPT), §4.9
(reconstruction error). N:M follows the REFERENCE behaviour (lazy, group by group mask choice,
from the weights as updated so far), not the "all groups at the block's start" variant.

Reads ../reference/tiny-gqa.h5 and ../wanda/calibration.txt, reuses the float32/float64 LLaDA
block forward of ../wanda/make_wanda_reference.py, and writes next to this script:
  sparsegpt-reference.json   per case: keep-masks and reconstruction errors of all 21 linears,
                             and (first case) the final pruned weights of block 0 q_proj

Precision: the stored fixture comes from the whole flow (forward passes, Hessian, Cholesky,
column loop) in float64, so that it is the exact-arithmetic answer to ~1e-14 and any
implementation working in float32 (Pare) is judged against the "true" value with a tolerance
that only has to absorb *its own* float32 rounding, not ours as well. The same flow is also run
in float32 (mirroring Pare: float32 activations, float32 Gram sum, float32 factorisations) as a
diagnostic: the script prints how many mask entries differ between the two runs, and the smallest
decision margin, so a test can tell whether exact mask equality is a fair expectation.
Deterministic: every run writes the same bytes.
"""
import json
import math
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"   # fixed summation order in BLAS (set before numpy)
os.environ["OMP_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True                       # leave no __pycache__ in ../wanda
sys.path.insert(0, os.path.join(HERE, "..", "wanda"))
import make_wanda_reference as wr  # noqa: E402      (load_model, block, LINEARS, PREFIX)

MODEL = os.path.join(HERE, "..", "reference", "tiny-gqa.h5")
CALIBRATION = os.path.join(HERE, "..", "wanda", "calibration.txt")
BLOCK_SIZE = 128     # SparseGPT column block
DAMP = 0.01          # fraction of mean(diag H) added to the diagonal
CASES = [("unstructured", 0.5), ("2:4", None), ("4:8", None)]
VALUE_CASE, VALUE_LINEAR = 0, "model.transformer.blocks.0.q_proj.weight"
# Stored floats are rounded: errors to 12 significant digits, weights to 12 decimal places
# (absolute: small compensated weights come from cancellation and only have absolute accuracy).
# The float64 flow is good to ~1e-14, so this keeps the bytes the same across BLAS kernels.


def rounded(v):
    return float(f"{v:.12g}")


def rounded_weight(v):
    return float(f"{v:.12f}") + 0.0          # + 0.0 turns -0.0 into 0.0


# ----------------------------------------------------------------------------- SparseGPT (§4.8)

parse_pattern = wr.parse_pattern          # "unstructured" -> None, "N:M" -> (N, M)


def upper_cholesky_of_inverse(H, damp):
    """U (upper triangular) with inv(H + damp*mean(diag H)*I) = U^T U. Retries with 10x the
    damping when a factorisation fails (at most 4 attempts), as §4.8 step 4."""
    F = H.dtype.type
    mean_diag = np.mean(np.diag(H))
    for attempt in range(4):
        A = H + F(damp * 10 ** attempt) * mean_diag * np.eye(len(H), dtype=H.dtype)
        try:
            L = np.linalg.cholesky(A)                      # A = L L^T
            Linv = np.linalg.inv(L)
            Ainv = Linv.T @ Linv                           # A^-1 = L^-T L^-1
            Ainv = (Ainv + Ainv.T) / F(2)                  # exactly symmetric
            U = np.linalg.cholesky(Ainv).T                 # A^-1 = (L2 L2^T) = U^T U, U = L2^T
        except np.linalg.LinAlgError:
            continue
        assert U.dtype == H.dtype and np.all(np.isfinite(U))
        return U
    raise np.linalg.LinAlgError("Hessian not positive definite even with damping")


def lowest(scores, n):
    """Indices (along the last axis) of the n lowest scores; stable, so of two equal scores the
    lower index is taken first. Also the decision margin (n-th kept - n-th removed) / removed."""
    order = np.argsort(scores, axis=-1, kind="stable")
    srt = np.take_along_axis(scores, order, axis=-1).astype(np.float64)
    lo, hi = srt[..., n - 1], srt[..., n]
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(lo > 0, (hi - lo) / np.where(lo > 0, lo, 1), np.inf)
    return order[..., :n], margin


def sparsegpt(W0, G, n_samples, pattern, s, lazy=True):
    """Prunes W0 [rows, cols] with Gram matrix G = sum_samples X_s^T X_s. Arithmetic in W0's
    dtype. Returns (pruned W, keep mask, (smallest decision margin, row, column)); the column is
    the group's first column for N:M, the largest removed score's column for unstructured.
    lazy=False is a diagnostic only: every N:M group chosen at the block's start."""
    F = W0.dtype.type
    rows, cols = W0.shape
    W = W0.copy()
    H = G * (F(2) / F(n_samples))                         # H = (2/n) G, scaled once
    dead = np.diag(H) == 0
    H[dead, dead] = F(1)                                  # dead inputs: H_dd = 1, W[:, d] = 0
    W[:, dead] = F(0)
    U = upper_cholesky_of_inverse(H, DAMP)
    d2 = np.diag(U) ** 2
    nm = parse_pattern(pattern)
    if nm is not None:
        assert cols % nm[1] == 0 and BLOCK_SIZE % nm[1] == 0   # groups never straddle blocks
    prune = np.zeros((rows, cols), bool)
    margin = (math.inf, -1, -1)
    for a in range(0, cols, BLOCK_SIZE):
        b = min(a + BLOCK_SIZE, cols)
        width = b - a
        if nm is None:                                    # one group: the whole [rows, width] block
            k = math.floor(rows * width * s)
            if k > 0:
                sc = (W[:, a:b] ** 2 / d2[a:b]).reshape(-1)   # row-major within the block
                idx, m = lowest(sc, k)
                blk = np.zeros(rows * width, bool)
                blk[idx] = True
                prune[:, a:b] = blk.reshape(rows, width)
                r, c = divmod(int(idx[-1]), width)
                margin = min(margin, (float(m), r, a + c))
        elif not lazy:                                    # diagnostic: all groups at block start
            N, M = nm
            sc = (W[:, a:b] ** 2 / d2[a:b]).reshape(rows, width // M, M)
            idx, m = lowest(sc, N)
            blk = np.zeros(sc.shape, bool)
            np.put_along_axis(blk, idx, True, axis=-1)
            prune[:, a:b] = blk.reshape(rows, width)
            r, g = np.unravel_index(np.argmin(m), m.shape)
            margin = min(margin, (float(m[r, g]), int(r), a + int(g) * M))
        Err = np.zeros((rows, width), W.dtype)
        for j in range(a, b):
            if nm is not None and lazy and j % nm[1] == 0:
                # Lazy N:M: this group's mask from the weights as updated by columns a..j-1.
                N, M = nm
                sc = W[:, j:j + M] ** 2 / d2[j:j + M]
                idx, m = lowest(sc, N)
                np.put_along_axis(prune[:, j:j + M], idx, True, axis=-1)
                r = int(np.argmin(m))
                margin = min(margin, (float(m[r]), r, j))
            w = W[:, j]
            q = np.where(prune[:, j], F(0), w)
            err = (w - q) / U[j, j]
            W[:, j] = q
            W[:, j + 1:b] -= np.outer(err, U[j, j + 1:b])   # rank-1 update of the rest of the block
            Err[:, j - a] = err
        W[:, b:] -= Err @ U[a:b, b:]                       # propagate to the later columns
    keep = ~prune & ~dead[None, :]
    assert np.array_equal(keep, W != 0), "pattern of exact zeros differs from the mask"
    return W, keep, margin


def reconstruction_error(X, W0, W1):
    """||X (W1 - W0)^T||_F / ||X W0^T||_F, in float64, from the inputs themselves."""
    X, W0, W1 = (np.asarray(t, np.float64) for t in (X, W0, W1))
    den = np.linalg.norm(X @ W0.T)
    return float(np.linalg.norm(X @ (W1 - W0).T) / den) if den > 0 else 0.0


# ----------------------------------------------------------------------------- calibration flow

def run_case(cfg, W, seqs, pattern, s, lazy=True):
    """§4.3: block by block; statistics of all seven linears from the still-dense block i, prune
    all seven, re-run the pruned block to make the inputs of block i+1. Arithmetic in W's dtype."""
    F = W[wr.PREFIX + "wte.weight"].dtype.type
    xs = [W[wr.PREFIX + "wte.weight"][ids] for ids in seqs]      # x = wte[ids]
    out = {"masks": {}, "errors": {}, "weights": {}, "margins": {}, "margin": (math.inf, None)}
    for i in range(cfg["n_layers"]):
        p = f"{wr.PREFIX}blocks.{i}."
        Wb = {k: W[p + k + ".weight"] for k in wr.LINEARS + ["attn_norm", "ff_norm"]}
        G = {k: np.zeros((Wb[k].shape[1],) * 2, F) for k in wr.LINEARS}
        Xs = {k: [] for k in wr.LINEARS}
        for x in xs:                                              # one sample = one sequence
            _, X = wr.block(cfg, Wb, x)
            for k in wr.LINEARS:
                G[k] += X[k].T @ X[k]                             # plain sum of X_s^T X_s
                Xs[k].append(X[k])
        pruned = dict(Wb)
        for k in wr.LINEARS:
            name = p + k + ".weight"
            Wp, keep, m = sparsegpt(Wb[k], G[k], len(xs), pattern, s, lazy)
            pruned[k] = Wp
            out["masks"][name] = ["".join("1" if v else "0" for v in row) for row in keep]
            out["errors"][name] = reconstruction_error(np.concatenate(Xs[k]), Wb[k], Wp)
            out["weights"][name] = Wp
            out["margins"][name] = float(f"{m[0]:.6g}")
            if m[0] < out["margin"][0]:
                out["margin"] = (m[0], dict(linear=name, row=m[1], column=m[2]))
        xs = [wr.block(cfg, pruned, x)[0] for x in xs]            # inputs of block i+1
    return out


# ----------------------------------------------------------------------------- main

def main():
    cfg, vocab, W32 = wr.load_model(MODEL)
    tok = {c: i for i, c in enumerate(vocab)}
    with open(CALIBRATION) as fh:
        lines = fh.read().split("\n")
    assert lines[-1] == "" and lines[:-1] == wr.CALIBRATION
    seqs = [np.array([tok[c] for c in t]) for t in lines[:-1]]
    wr.check_forward(cfg, W32, seqs[1])                          # our block forward is the spec's
    W64 = {k: v.astype(np.float64) for k, v in W32.items()}

    doc = {"method": "sparsegpt", "model": "../reference/tiny-gqa.h5",
           "calibration": "../wanda/calibration.txt", "calibration_mask_ratio": 0,
           "block_size": BLOCK_SIZE, "dampening": DAMP, "cases": []}
    for ci, (pattern, s) in enumerate(CASES):
        nm = parse_pattern(pattern)
        sparsity = s if nm is None else nm[0] / nm[1]
        r64 = run_case(cfg, W64, seqs, pattern, sparsity)
        r32 = run_case(cfg, W32, seqs, pattern, sparsity)
        masks = r64["masks"]
        zeroed = sum(r.count("0") for m in masks.values() for r in m)
        total = sum(len(r) for m in masks.values() for r in m)
        diff = sum(a != b for k in masks for ra, rb in zip(masks[k], r32["masks"][k])
                   for a, b in zip(ra, rb))
        err_dev = max(abs(r64["errors"][k] - r32["errors"][k]) for k in masks)
        mean64 = float(np.mean(list(r64["errors"].values())))
        mean32 = float(np.mean(list(r32["errors"].values())))
        print(f"{pattern:12} s={sparsity:<4} zeroed {zeroed}/{total} = {zeroed / total:.4f}  "
              f"mean reconstruction error {mean64:.6f} (float32 flow {mean32:.6f})")
        print(f"  min decision margin {r64['margin'][0]:.3e} at {r64['margin'][1]}")
        print(f"  float32 vs float64 flow: {diff} of {total} mask entries differ; "
              f"max |error difference| {err_dev:.1e}")
        case = {"pattern": pattern, "sparsity": sparsity,
                "mean_reconstruction_error": rounded(mean64),
                "min_decision_margin": float(f"{r64['margin'][0]:.6g}"),
                "min_decision_margin_at": r64["margin"][1],
                "decision_margins": r64["margins"],
                "masks": masks,
                "reconstruction_errors": {k: rounded(v) for k, v in r64["errors"].items()}}
        if ci == VALUE_CASE:
            w64, w32 = r64["weights"][VALUE_LINEAR], r32["weights"][VALUE_LINEAR]
            print(f"  {VALUE_LINEAR}: float32 flow max |w - w64| = "
                  f"{np.abs(w32 - w64).max():.2e} (max |w64| {np.abs(w64).max():.3f})")
            case["weights"] = {VALUE_LINEAR: [[rounded_weight(v) for v in row] for row in w64]}
        if nm is not None:                                      # diagnostic only, not stored
            eager = run_case(cfg, W64, seqs, pattern, sparsity, lazy=False)
            me = float(np.mean(list(eager["errors"].values())))
            nd = sum(a != b for k in masks for ra, rb in zip(masks[k], eager["masks"][k])
                     for a, b in zip(ra, rb))
            print(f"  diagnostic: all groups at the block's start -> mean reconstruction error "
                  f"{me:.6f} (lazy {mean64:.6f}); {nd} mask entries differ from lazy")
        doc["cases"].append(case)

    with open(os.path.join(HERE, "sparsegpt-reference.json"), "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
