#!/usr/bin/env python3
"""Makes the Hugging Face fixtures of HFConvertTests: tiny random LLaDA (MHA, GQA) and Dream
checkpoints in HF layout (sharded safetensors + index, fp32 and bf16), each with golden logits
and a golden fixed-sampler generation from the *official* modeling code.

The official code is imported from a folder given on the command line (never committed):

    REF/llada/modeling_llada.py, REF/llada/configuration_llada.py   (GSAI-ML/LLaDA-8B-Instruct)
    REF/dream/modeling_dream.py, REF/dream/configuration_dream.py,
    REF/dream/generation_utils.py                                     (Dream-org/Dream-v0-Instruct-7B)
    REF/generate.py                                                   (github.com/ML-GSAI/LLaDA)

    OMP_NUM_THREADS=1 python3 make_hf_fixtures.py --reference /work/scratch/hfref

Goldens (golden.json in each folder):
  - logits: the official forward on `input_ids`, in fp32 on the stored (for bf16: bf16-rounded)
    weights. For Dream they are shifted as Dream's sampler shifts them
    (torch.cat([logits[:, :1], logits[:, :-1]], 1)): position i predicted from hidden state i-1.
  - generation: LLaDA: the official generate() (low_confidence remasking, temperature 0).
    Dream: the fixed sampler of ALGORITHMS.md section 3 written out below on the official
    forward's shifted logits.
Only this script needs torch, transformers, safetensors and tokenizers.
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_ROWS = 288          # embedding rows; the tokenizer has fewer tokens, as in the real models
PROMPT = [5, 17, 101, 42, 9]
GEN_LENGTH, STEPS, BLOCK_LENGTH = 8, 8, 4


def load_package(name, folder, files):
    """Imports `files` from `folder` as package `name` (the files use relative imports)."""
    pkg_dir = os.path.join(tempfile.mkdtemp(), name)
    os.makedirs(pkg_dir)
    open(os.path.join(pkg_dir, "__init__.py"), "w").close()
    for f in files:
        shutil.copy(os.path.join(folder, f), pkg_dir)
    sys.path.insert(0, os.path.dirname(pkg_dir))
    return {f[:-3]: importlib.import_module(f"{name}.{f[:-3]}") for f in files}


def import_path(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tokenizer():
    """A tiny byte-level BPE (256 byte tokens + merges) with <|endoftext|> and <|mdm_mask|>."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=270, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog", "12+34=46", "rev:abc=cba"] * 20, trainer)
    tok.add_special_tokens(["<|endoftext|>", "<|mdm_mask|>"])
    eos, mask = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|mdm_mask|>")
    return tok, eos, mask


def randomize(model, seed, mask):
    """Random weights (fixed seed): linears N(0, 1/fan_in), embeddings N(0, 1), norms 1 + 0.1 N,
    biases 0.1 N, the head 3x wider so the confidences spread, q and k 4x wider so attention
    is sharp and depends on RoPE's positions, and a small mask embedding, so that masked
    positions are told apart by what they attend to (else every one predicts the same token)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if p.ndim == 1 and "bias" not in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "wte" in name or "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g))
                p[mask] *= 0.1
            else:
                scale = 3.0 if ("ff_out" in name and "blocks" not in name) or "lm_head" in name else 1.0
                scale = 4.0 if "q_proj" in name or "k_proj" in name else scale
                p.copy_(scale * torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)


def save_sharded(state, folder, dtype, shards=2):
    """Writes `state` as `shards` safetensors files plus model.safetensors.index.json, splitting
    the block tensors so one block's tensors land in different shards."""
    names = sorted(state)
    groups = [names[i::shards] for i in range(shards)]
    weight_map, total = {}, 0
    for i, group in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: state[n].to(dtype).contiguous() for n in group}, os.path.join(folder, fname), metadata={"format": "pt"})
        for n in group:
            weight_map[n] = fname
            total += state[n].numel() * (4 if dtype == torch.float32 else 2)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def fixed_sampler(logits_fn, prompt, mask_id, gen_length, steps, block_length):
    """ALGORITHMS.md section 3, fixed policy, temperature 0: candidates argmax over every token
    but the mask, confidence softmax(logits)[candidate], eligible = masked positions of the
    current block, the k_j most confident commit (ties: smaller position first)."""
    x = list(prompt) + [mask_id] * gen_length
    P = len(prompt)
    n_blocks = gen_length // block_length
    s = steps // n_blocks
    for b in range(n_blocks):
        lo, hi = P + b * block_length, P + (b + 1) * block_length
        M = sum(1 for i in range(lo, hi) if x[i] == mask_id)
        for j in range(s):
            k = M // s + (1 if j < M % s else 0)
            logits = logits_fn(x).astype(np.float64)            # [T, V]
            masked_logits = logits.copy()
            masked_logits[:, mask_id] = -np.inf
            cand = masked_logits.argmax(axis=1)                   # first max = lowest id
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            conf = p[np.arange(len(x)), cand]
            eligible = [i for i in range(lo, hi) if x[i] == mask_id]
            eligible.sort(key=lambda i: (-conf[i], i))
            for i in eligible[:k]:
                x[i] = int(cand[i])
    return x[P:]


def llada_config(n_kv_heads, eos, mask, vocab_size):
    return {
        "architectures": ["LLaDAModelLM"], "model_type": "llada",
        "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM",
                     "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"},
        "d_model": 32, "n_heads": 4, "n_kv_heads": n_kv_heads, "n_layers": 2, "mlp_hidden_size": 64,
        "mlp_ratio": 2, "vocab_size": vocab_size, "embedding_size": VOCAB_ROWS, "max_sequence_length": 64,
        "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "activation_type": "silu", "block_type": "llama",
        "layer_norm_type": "rms", "include_bias": False, "include_qkv_bias": False, "weight_tying": False,
        "rope": True, "alibi": False, "input_emb_norm": False, "scale_logits": False, "attention_layer_norm": False,
        "bias_for_layer_norm": False, "layer_norm_with_affine": True, "attention_dropout": 0.0,
        "residual_dropout": 0.0, "embedding_dropout": 0.0, "flash_attention": False, "init_device": "cpu",
        "mask_token_id": mask, "eos_token_id": eos, "pad_token_id": eos, "use_cache": False,
    }


def dream_config(eos, mask):
    return {
        "architectures": ["DreamModel"], "model_type": "Dream",
        "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": VOCAB_ROWS, "max_position_embeddings": 64, "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6, "hidden_act": "silu", "tie_word_embeddings": False, "rope_scaling": None,
        "use_sliding_window": False, "sliding_window": None, "max_window_layers": 2, "attention_dropout": 0.0,
        "initializer_range": 0.02, "use_cache": False, "torch_dtype": "float32",
        "bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos, "mask_token_id": mask,
    }


def write_golden(folder, input_ids, logits, generation, extra):
    golden = {"input_ids": input_ids, "logits": np.round(logits.astype(np.float64), 7).tolist(),
              "prompt": PROMPT, "gen_length": GEN_LENGTH, "steps": STEPS, "block_length": BLOCK_LENGTH,
              "generation": generation, **extra}
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="folder with llada/, dream/ and generate.py (official code)")
    ap.add_argument("--output", default=HERE)
    args = ap.parse_args()
    torch.set_num_threads(1)

    llada = load_package("llada_ref", os.path.join(args.reference, "llada"), ["configuration_llada.py", "modeling_llada.py"])
    dream = load_package("dream_ref", os.path.join(args.reference, "dream"),
                         ["configuration_dream.py", "generation_utils.py", "modeling_dream.py"])
    generate = import_path("llada_generate", os.path.join(args.reference, "generate.py"))

    tok, eos, mask = make_tokenizer()
    vocab_size = tok.get_vocab_size()
    input_ids = PROMPT + [mask] * GEN_LENGTH

    cases = [("llada-mha-f32", "llada", 4, torch.float32, 1), ("llada-mha-bf16", "llada", 4, torch.bfloat16, 1),
             ("llada-gqa-bf16", "llada", 2, torch.bfloat16, 2), ("dream-f32", "dream", 2, torch.float32, 3),
             ("dream-bf16", "dream", 2, torch.bfloat16, 3)]
    for name, arch, kv, dtype, seed in cases:
        folder = os.path.join(args.output, name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        if arch == "llada":
            cfg = llada_config(kv, eos, mask, vocab_size)
            lc = llada["configuration_llada"].LLaDAConfig(**cfg)
            lc.use_cache = False   # transformers 5 no longer keeps use_cache from the kwargs
            model = llada["modeling_llada"].LLaDAModelLM(lc, init_params=False)
        else:
            cfg = dream_config(eos, mask)
            dc = dream["configuration_dream"].DreamConfig(**cfg)
            dc._attn_implementation = "sdpa"
            model = dream["modeling_dream"].DreamModel(dc)
        randomize(model, seed, mask)
        model.eval()
        # The stored weights; the reference then computes in fp32 on exactly these values.
        state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(state[k].float())
        save_sharded(state, folder, dtype)
        cfg["torch_dtype"] = "float32" if dtype == torch.float32 else "bfloat16"
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)

        def logits_of(ids):
            with torch.no_grad():
                out = model(torch.tensor([ids])).logits.float()
            if arch == "dream":   # as Dream's sampler: position i from hidden state i - 1
                out = torch.cat([out[:, :1], out[:, :-1]], dim=1)
            return out[0].numpy()

        logits = logits_of(input_ids)
        if arch == "llada":
            tok.save(os.path.join(folder, "tokenizer.json"))
            with torch.no_grad():
                out = generate.generate(model, torch.tensor([PROMPT]), steps=STEPS, gen_length=GEN_LENGTH,
                                        block_length=BLOCK_LENGTH, temperature=0.0, cfg_scale=0.0,
                                        remasking="low_confidence", mask_id=mask)
            generation = out[0, len(PROMPT):].tolist()
            # The official sampler may pick the mask id as a candidate, Pare never does
            # (ALGORITHMS.md section 3.2): the golden is only valid if it never did.
            assert mask not in generation, f"{name}: the reference committed the mask id; pick another seed"
            check = fixed_sampler(logits_of, PROMPT, mask, GEN_LENGTH, STEPS, BLOCK_LENGTH)
            assert check == generation, f"{name}: generate.py {generation} != ALGORITHMS.md sampler {check}"
        else:
            # Dream ships vocab.json + merges.txt + added_tokens.json, no tokenizer.json.
            tok.model.save(folder)
            with open(os.path.join(folder, "added_tokens.json"), "w") as f:
                json.dump({"<|endoftext|>": eos, "<|mdm_mask|>": mask}, f)
            with open(os.path.join(folder, "generation_config.json"), "w") as f:
                json.dump({"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos, "mask_token_id": mask}, f)
            generation = fixed_sampler(logits_of, PROMPT, mask, GEN_LENGTH, STEPS, BLOCK_LENGTH)
        write_golden(folder, input_ids, logits, generation, {"mask_token_id": mask, "eos_token_id": eos})
        print(f"{name}: generation {generation}")


if __name__ == "__main__":
    main()
