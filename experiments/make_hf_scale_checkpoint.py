#!/usr/bin/env python3
"""Writes a synthetic LLaDA-shaped Hugging Face checkpoint of about 1.06 B parameters (bf16,
sharded, with model.safetensors.index.json, one block's tensors spread over shards) for the
`pare convert` scale test (issue #11). Streams every tensor to disk: the script itself needs
only a few MB. Values: bf16 words of N(0, 0.02) samples, a 1 M-value random block tiled.

    python3 experiments/make_hf_scale_checkpoint.py /work/scratch/hf-scale
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

D, HEADS, LAYERS, DFF, VOCAB = 2048, 16, 18, 5632, 32000
SHARD_BYTES = 450_000_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tensors():
    yield "model.transformer.wte.weight", [VOCAB, D]
    for i in range(LAYERS):
        p = f"model.transformer.blocks.{i}."
        yield p + "attn_norm.weight", [D]
        for name, shape in [("q_proj", [D, D]), ("k_proj", [D, D]), ("v_proj", [D, D]), ("attn_out", [D, D])]:
            yield p + name + ".weight", shape
        yield p + "ff_norm.weight", [D]
        for name, shape in [("ff_proj", [DFF, D]), ("up_proj", [DFF, D]), ("ff_out", [D, DFF])]:
            yield p + name + ".weight", shape
    yield "model.transformer.ln_f.weight", [D]
    yield "model.transformer.ff_out.weight", [VOCAB, D]


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    block = (rng.standard_normal(1 << 20).astype(np.float32) * 0.02).view(np.uint32) >> 16
    block = block.astype("<u2")
    shards, current, size = [], [], 0
    for name, shape in tensors():
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape, nbytes))
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for s, group in enumerate(shards):
        fname = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape, nbytes in group:
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(os.path.join(out, fname), "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for name, shape, nbytes in group:
                n = nbytes // 2
                if name.endswith("norm.weight"):
                    f.write(np.full(n, 0x3F80, dtype="<u2").tobytes())   # 1.0
                    continue
                while n > 0:
                    k = min(n, block.size)
                    f.write(block[:k].tobytes())
                    n -= k
        for name, shape, nbytes in group:
            weight_map[name] = fname
            total += nbytes
    params = sum(int(np.prod(s)) for _, s in tensors())
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    config = {"model_type": "llada", "architectures": ["LLaDAModelLM"], "d_model": D, "n_heads": HEADS,
              "n_kv_heads": HEADS, "n_layers": LAYERS, "mlp_hidden_size": DFF, "vocab_size": VOCAB,
              "embedding_size": VOCAB, "max_sequence_length": 4096, "rope_theta": 500000.0, "rms_norm_eps": 1e-5,
              "activation_type": "silu", "block_type": "llama", "include_bias": False, "weight_tying": False,
              "mask_token_id": VOCAB - 1, "eos_token_id": VOCAB - 2, "torch_dtype": "bfloat16"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    shutil.copy(os.path.join(ROOT, "Tests/PareTests/Fixtures/hf/llada-mha-f32/tokenizer.json"), out)
    print(f"{out}: {params} parameters, {len(shards)} shards, {total / 1e9:.2f} GB")


if __name__ == "__main__":
    main(sys.argv[1])
