"""Checks Pare's byte-level BPE against Hugging Face on a real tokenizer folder (by hand).

  python3 experiments/tokenizer_check.py HF_DIR [--pare BIN] [--lines FILE] [--count N]

HF_DIR is a Hugging Face model folder (LLaDA-8B-Instruct, Dream-v0-Instruct-7B, ...); only its
tokenizer files are read. The script

1. makes a tiny random pare-dlm model with `pare init` whose vocab_size covers the tokenizer,
   and stores HF_DIR's tokenizer files in it as `/tokenizer` kind "bpe" with h5py, following
   docs/format.md ("kind = bpe": one uint8 dataset per file, each with its crc32);
2. encodes each test line with `pare tokenize --model M --text LINE --json` and with the
   `transformers` tokenizer of HF_DIR (`tokenizer(line)["input_ids"]`, its default special
   tokens), and compares the ids;
3. prints the number of identical lines and the first differences; exits 1 on any difference.

Test lines: --lines FILE (one line per text), else the first --count lines of the BPE fixture
(Tests/PareTests/Fixtures/bpe/cases.json: scripts, emoji, whitespace runs, digits, special
tokens). Needs numpy, h5py, transformers (and the `pare` binary: --pare, default
.build/release/pare). Dream's folder names a remote-code tokenizer class; the script falls back
to Qwen2Tokenizer, which that class copies.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ["tokenizer.json", "vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json",
         "special_tokens_map.json"]   # the files docs/format.md says Pare keeps


def reference_tokenizer(folder):
    from transformers import AutoTokenizer, Qwen2Tokenizer
    try:
        return AutoTokenizer.from_pretrained(folder)
    except Exception:   # a remote-code class (DreamTokenizer) that copies Qwen2's
        return Qwen2Tokenizer.from_pretrained(folder)


def model_with_tokenizer(pare, folder, vocab_size, out):
    subprocess.run([pare, "init", "--output", out, "--d-model", "8", "--n-layers", "1", "--n-heads", "1",
                    "--d-ff", "8", "--vocab", str(vocab_size), "--max-seq-len", "16"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with h5py.File(out, "a") as f:
        del f["tokenizer"]
        group = f.create_group("tokenizer")
        group.attrs["kind"] = "bpe"
        for name in FILES:
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                continue
            data = open(path, "rb").read()
            ds = group.create_dataset(f"files/{name}", data=np.frombuffer(data, dtype=np.uint8))
            ds.attrs["crc32"] = np.int64(zlib.crc32(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hf_dir")
    parser.add_argument("--pare", default=os.path.join(HERE, "..", ".build", "release", "pare"))
    parser.add_argument("--lines")
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()

    if args.lines:
        lines = open(args.lines, encoding="utf-8").read().splitlines()
    else:
        cases = os.path.join(HERE, "..", "Tests", "PareTests", "Fixtures", "bpe", "cases.json")
        lines = json.load(open(cases, encoding="utf-8"))["lines"][:args.count]
    tok = reference_tokenizer(args.hf_dir)
    # Past every id the tokenizer knows, and past the reference vocabulary `pare init` needs.
    vocab_size = max(max(tok.get_vocab().values()) + 1, len(tok), 45)
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m.h5")
        model_with_tokenizer(args.pare, args.hf_dir, vocab_size, model)
        same, differ = 0, []
        for i, line in enumerate(lines):
            run = subprocess.run([args.pare, "tokenize", "--model", model, "--text", line, "--json"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"pare tokenize failed on line {i}: {run.stderr.strip()}")
            ids = json.loads(run.stdout.strip().splitlines()[-1])["ids"]
            expected = tok(line)["input_ids"]
            if ids == expected:
                same += 1
            else:
                differ.append((i, line, ids, expected))
    print(f"{args.hf_dir}: {same} of {len(lines)} lines identical")
    for i, line, ids, expected in differ[:5]:
        print(f"  line {i} {line!r}: pare {ids} hf {expected}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
