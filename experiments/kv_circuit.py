#!/usr/bin/env python3
"""Where does a model look when it answers kv? (numpy + h5py, independent of Pare's code)

    python3 experiments/kv_circuit.py models/pare-tiny.h5 [--keyed] [--samples 200] [--min 0.3]

Runs the forward pass of a pare-dlm file in float64 on kv prompts with a fully masked
12-token answer region and prints, per block and head, the mean attention weight
  - of the answer position on the query key (two places back, `?q=`),
  - of the answer position on the queried value and on the other values,
  - of every prompt value on its own key (two places back, `k:v`).
A retrieval circuit shows as a head with both "two back" weights near 1 (the fetch), followed
in a later block by heads that put most of the answer's weight on the queried value (the match).
`--keyed` draws the curriculum's keyed samples (value = letter index mod 10) instead.
Only heads with some weight >= --min are listed. Samples come from numpy's generator (seed 1),
not from Pare's test split.
"""
import argparse
import math

import h5py
import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def load(path):
    f = h5py.File(path, "r")
    config = {k: f["config"].attrs[k] for k in f["config"].attrs}
    vocab = [s.decode() if isinstance(s, bytes) else s for s in f["tokenizer/vocab"][()]]
    weights = {}
    f.visititems(lambda name, obj: weights.__setitem__(name, obj[()].astype(np.float64))
                 if isinstance(obj, h5py.Dataset) and name.startswith("model/") else None)
    return config, vocab, weights


def forward(config, weights, ids):
    """Logits [T, V] and attention probabilities per block [heads, T, T] (bidirectional LLaDA)."""
    g = lambda name: weights["model/transformer/" + name]  # noqa: E731
    H, KV, eps = int(config["n_heads"]), int(config["n_kv_heads"]), float(config["norm_eps"])
    hd = int(config["d_model"]) // H
    half, T = hd // 2, len(ids)
    inv = float(config["rope_theta"]) ** (-2.0 * np.arange(half) / hd)
    ang = np.arange(T)[:, None] * inv[None]
    cos, sin = np.cos(ang)[:, None], np.sin(ang)[:, None]

    def rope(t):  # [T, heads, hd], rotate-half
        a, b = t[..., :half], t[..., half:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)

    def rms(x, w):
        return w * x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps)

    x, probs = g("wte/weight")[ids], []
    for b in range(int(config["n_layers"])):
        p = f"blocks/{b}/"
        n = rms(x, g(p + "attn_norm/weight"))
        q = rope((n @ g(p + "q_proj/weight").T).reshape(T, H, hd))
        k = rope((n @ g(p + "k_proj/weight").T).reshape(T, KV, hd))
        v = (n @ g(p + "v_proj/weight").T).reshape(T, KV, hd)
        out, block = np.empty((T, H, hd)), []
        for h in range(H):
            s = q[:, h] @ k[:, h // (H // KV)].T / math.sqrt(hd)
            a = np.exp(s - s.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            block.append(a)
            out[:, h] = a @ v[:, h // (H // KV)]
        probs.append(np.stack(block))
        h_ = x + out.reshape(T, -1) @ g(p + "attn_out/weight").T
        n = rms(h_, g(p + "ff_norm/weight"))
        gate = n @ g(p + "ff_proj/weight").T
        x = h_ + ((gate / (1 + np.exp(-gate))) * (n @ g(p + "up_proj/weight").T)) @ g(p + "ff_out/weight").T
    return rms(x, g("ln_f/weight")) @ g("ff_out/weight").T, probs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--keyed", action="store_true")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--min", type=float, default=0.3)
    args = ap.parse_args()
    config, vocab, weights = load(args.model)
    token = {s: i for i, s in enumerate(vocab)}
    mask = int(config["mask_token_id"])
    L, H = int(config["n_layers"]), int(config["n_heads"])
    rng = np.random.default_rng(1)
    stats = np.zeros((L, H, 4))   # answer->query key, answer->queried value, answer->other values, value->own key
    correct = values_seen = 0
    for _ in range(args.samples):
        n = int(rng.integers(2, 6))
        keys = [LETTERS[i] for i in rng.choice(26, n, replace=False)]
        vals = [LETTERS.index(k) % 10 for k in keys] if args.keyed else [int(v) for v in rng.integers(0, 10, n)]
        qi = int(rng.integers(n))
        prompt = ",".join(f"{k}:{v}" for k, v in zip(keys, vals)) + f"?{keys[qi]}="
        P = len(prompt)
        logits, probs = forward(config, weights, np.array([token[c] for c in prompt] + [mask] * 12))
        correct += vocab[int(np.argmax(logits[P]))] == str(vals[qi])
        value_pos = [4 * i + 2 for i in range(n)]
        values_seen += n
        for b in range(L):
            for h in range(H):
                a = probs[b][h]
                stats[b, h] += [a[P, P - 2], a[P, value_pos[qi]],
                                sum(a[P, j] for i, j in enumerate(value_pos) if i != qi), 0]
                stats[b, h, 3] += sum(a[j, j - 2] for j in value_pos)
    stats[..., :3] /= args.samples
    stats[..., 3] /= values_seen
    print(f"{args.model}: {'keyed' if args.keyed else 'random'} kv, {args.samples} prompts; "
          f"answer argmax after one pass correct: {correct / args.samples:.1%}")
    print("block head  answer->query key  answer->queried value  answer->other values  value->own key")
    for b in range(L):
        for h in range(H):
            s = stats[b, h]
            if s.max() >= args.min:
                print(f"{b:5d} {h:4d}  {s[0]:17.2f}  {s[1]:21.2f}  {s[2]:20.2f}  {s[3]:14.2f}")


if __name__ == "__main__":
    main()
