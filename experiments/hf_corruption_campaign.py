#!/usr/bin/env python3
"""Corruption campaign for `pare convert` (issue #11): damaged safetensors shards, shard
indexes and config.json files, each run through the built binary under a timeout and a memory
limit. Every run must end in exit 0 (the damage did not matter, e.g. a changed weight value) or
exit 1 with one `error:` line; a signal, any other exit code, a hang or a multi-line error is a
bad case.

    python3 experiments/hf_corruption_campaign.py --pare .build/release/pare --seed 1 \
        [--safetensors 250] [--configs 250] [--indexes 50] [--report report.json]
"""
import argparse
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Damage is applied to copies of a Dream (bf16) and a LLaDA (f32) fixture, alternately.
FIXTURES = [os.path.join(ROOT, "Tests", "PareTests", "Fixtures", "hf", name) for name in ("dream-bf16", "llada-mha-f32")]
SHARD = "model-00001-of-00002.safetensors"
TIMEOUT = 20
MEMORY = 4 << 30


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def header_of(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def build(header, body, length=None):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


def weird_value(rng):
    return rng.choice([-1, 0, 1, 2 ** 31, 2 ** 63, 2 ** 64 + 7, 1e308, -1e308, 0.5, "12", "", None, True, False,
                       [], {}, [1, 2, 3], {"a": 1}, float("nan") if rng.random() < 0.0 else 3.25, "F32", "BF16", "I64"])


def mutate_safetensors(data, rng):
    """One damaged copy of a shard and a short description of the damage."""
    header, body = header_of(data)
    names = sorted(k for k in header if k != "__metadata__")
    kind = rng.choice(["truncate", "flip_header", "flip_any", "length", "dtype", "offsets", "shape", "drop_entry",
                       "duplicate_offsets", "junk_entry", "deep_json", "huge_json_claim", "extend", "metadata"])
    if kind == "truncate":
        cut = rng.randrange(0, len(data))
        return data[:cut], f"truncate at {cut}"
    if kind == "flip_header":
        n = struct.unpack("<Q", data[:8])[0]
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(8, 8 + n)
            b[i] = rng.randrange(256)
        return bytes(b), "header bytes changed"
    if kind == "flip_any":
        b = bytearray(data)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b), f"bit flip at {i}"
    if kind == "length":
        v = rng.choice([0, 1, 7, len(data), len(data) - 8, 2 ** 32, 2 ** 63, 2 ** 64 - 1, 100_000_001, rng.randrange(2 ** 20)])
        return struct.pack("<Q", v) + data[8:], f"header length {v}"
    name = rng.choice(names)
    entry = header[name]
    if kind == "dtype":
        entry["dtype"] = rng.choice(["F64", "I8", "I64", "U8", "BOOL", "F8_E4M3", "Q4", "", 5, None, "f32", "BF16", "F16", "F32"])
    elif kind == "offsets":
        a, b = entry["data_offsets"]
        entry["data_offsets"] = rng.choice([[a, b + 2], [a - 2, b], [b, a], [a + 1, b + 1], [-4, b], [a, 2 ** 62],
                                            [a], [a, b, b], "0,8", [a + 0.5, b], [weird_value(rng), b]])
    elif kind == "shape":
        s = list(entry["shape"])
        entry["shape"] = rng.choice([s[::-1] + [1], [x * 2 for x in s], [-x for x in s], s + [0], [],
                                     [2 ** 40, 2 ** 40], [weird_value(rng)] + s[1:], "32"])
    elif kind == "drop_entry":
        del header[name]
    elif kind == "duplicate_offsets":
        other = header[rng.choice(names)]
        entry["data_offsets"] = list(other["data_offsets"])
    elif kind == "junk_entry":
        header[rng.choice(["x", "model.layers.0.extra.weight", name + "2"])] = weird_value(rng)
    elif kind == "deep_json":
        depth = rng.choice([100, 1000, 200_000])
        raw = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        return struct.pack("<Q", len(raw)) + raw + body, f"JSON nested {depth} deep"
    elif kind == "huge_json_claim":
        return struct.pack("<Q", 200_000_000) + data[8:], "claims a 200 MB header"
    elif kind == "extend":
        return data + bytes(rng.randrange(1, 64)), "trailing bytes"
    elif kind == "metadata":
        header["__metadata__"] = rng.choice([[], "pt", {"format": 1}, None, {"format": "pt", "k": ["v"]}])
    return build(header, body), f"{kind} on {name}"


def mutate_config(text, rng):
    config = json.loads(text)
    keys = sorted(config)
    kind = rng.choice(["value", "value", "value", "delete", "model_type", "truncate", "garbage", "not_object", "huge",
                       "nested"])
    if kind == "value":
        k = rng.choice(["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                        "intermediate_size", "vocab_size", "rms_norm_eps", "rope_theta", "max_position_embeddings",
                        "mask_token_id", "eos_token_id", "hidden_act", "tie_word_embeddings", "rope_scaling",
                        "head_dim", "use_sliding_window"] + keys)
        config[k] = weird_value(rng)
        return json.dumps(config).encode(), f"{k} = {config[k]!r}"
    if kind == "delete":
        k = rng.choice(keys)
        del config[k]
        return json.dumps(config).encode(), f"without {k}"
    if kind == "model_type":
        config["model_type"] = rng.choice(["llama", "qwen2", "", "LLaDA", None, 3])
        config["architectures"] = rng.choice([["LlamaForCausalLM"], [], None, "DreamModel"])
        return json.dumps(config).encode(), f"model_type {config['model_type']!r}"
    if kind == "truncate":
        cut = rng.randrange(len(text))
        return text[:cut], f"truncated at {cut}"
    if kind == "garbage":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))), "random bytes"
    if kind == "not_object":
        return rng.choice([b"[]", b"null", b"42", b'"config"', b""]), "not an object"
    if kind == "huge":
        return b'{"pad": "' + b"x" * 11_000_000 + b'"}', "11 MB config"
    return b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deeply nested"


def run(pare, folder, out):
    try:
        r = subprocess.run([pare, "convert", folder, "--output", out], capture_output=True, text=True,
                           timeout=TIMEOUT, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return "hang", ""
    err = r.stderr.strip()
    if r.returncode == 0:
        return "accepted", ""
    if r.returncode == 1 and err.startswith("error:") and "\n" not in err:
        return "clean error", err
    return f"bad exit {r.returncode}", err[-300:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pare", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--safetensors", type=int, default=250)
    ap.add_argument("--configs", type=int, default=250)
    ap.add_argument("--indexes", type=int, default=50)
    ap.add_argument("--report")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="pare-hf-campaign-")
    sources = [{"dir": d, "shard": open(os.path.join(d, SHARD), "rb").read(),
                "config": open(os.path.join(d, "config.json"), "rb").read(),
                "index": json.load(open(os.path.join(d, "model.safetensors.index.json")))} for d in FIXTURES]
    counts, bad = {}, []

    def trial(group, i, write):
        source = sources[i % len(sources)]
        folder = os.path.join(work, f"{group}-{i}")
        shutil.copytree(source["dir"], folder)
        os.remove(os.path.join(folder, "golden.json"))
        what = os.path.basename(source["dir"]) + ": " + write(folder, source)
        outcome, err = run(args.pare, folder, os.path.join(work, "out.h5"))
        counts.setdefault(group, {}).setdefault(outcome, 0)
        counts[group][outcome] += 1
        if outcome not in ("accepted", "clean error"):
            bad.append({"group": group, "mutation": what, "outcome": outcome, "stderr": err})
        shutil.rmtree(folder)

    def shard_case(folder, source):
        data, what = mutate_safetensors(source["shard"], rng)
        open(os.path.join(folder, SHARD), "wb").write(data)
        return what

    def config_case(folder, source):
        data, what = mutate_config(source["config"], rng)
        open(os.path.join(folder, "config.json"), "wb").write(data)
        return what

    def index_case(folder, source):
        m = json.loads(json.dumps(source["index"]))
        k = rng.choice(sorted(m["weight_map"]))
        change = rng.choice(["../" + SHARD, "/etc/passwd", "", "missing.safetensors", None, 7, "drop", "swap"])
        if change == "drop":
            del m["weight_map"][k]
        elif change == "swap":
            m["weight_map"][k] = "model-00002-of-00002.safetensors" if m["weight_map"][k] == SHARD else SHARD
        else:
            m["weight_map"][k] = change
        open(os.path.join(folder, "model.safetensors.index.json"), "w").write(json.dumps(m))
        return f"weight_map[{k}] = {change!r}"

    for i in range(args.safetensors):
        trial("safetensors", i, shard_case)
    for i in range(args.configs):
        trial("config", i, config_case)
    for i in range(args.indexes):
        trial("index", i, index_case)
    shutil.rmtree(work)
    report = {"seed": args.seed, "counts": counts, "bad_cases": bad}
    print(json.dumps(report, indent=2))
    if args.report:
        json.dump(report, open(args.report, "w"), indent=2)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
