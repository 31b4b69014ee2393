"""Out-of-process corruption campaign for Pare's model loader (issue #10).

Makes many corrupted copies of real model files and runs the release `pare` binary on each,
one subprocess at a time, checking that every bad file ends in a clean one-line error (or a
success, when the damage is harmless) and never in a crash, a hang or a memory bomb.

Base files, from two writer styles:
  pare   files Pare wrote: the bundled models/pare-tiny.h5, and two sparse files made from it
         with `pare prune --sparsity 0.5 --store bitmask` and `--store csr` (superblock v3,
         metadata checksums, Fletcher-32 on every tensor);
  h5py   the same three files copied group by group, dataset by dataset and attribute by
         attribute with h5py's defaults (old superblock, no checksums, contiguous datasets).

Mutation classes, each a deterministic generator seeded from --seed, the class and the style:
  truncate     cut the file at a random offset
  flip1/8/64   flip 1, 8 or 64 random bytes anywhere
  flip-meta    flip 1-16 bytes in the first 4 KiB or near object headers and other metadata
               (addresses from h5py, plus HDF5 signatures OHDR/TREE/HEAP/GCOL/SNOD/BTHD/...)
  zero         zero a random range (1 byte to 64 KiB), half of them inside metadata
  h5:KIND      structural edits made with h5py, one class per kind: shape (wrong shapes),
               dtype (wrong dtypes), nonfinite (NaN/inf weights), delete (datasets, groups,
               attributes), extra (extra datasets), huge (declared shape (2**31,) and the like,
               chunked, some gzip-compressed, never written), external (external links to
               datasets and groups, external storage, virtual datasets), attr (attribute type/value changes in config, root,
               tokenizer, provenance), vocab (strings edited), encoding (sparse `encoding-type`
               changed), csr-range (CSR indices/indptr out of range), bitmask-pop (popcount
               mismatch); sparse-only kinds use the sparse bases

Each file is run with `pare inspect --model F` and `pare generate --model F --prompt 1+2=
--gen-length 4`, with a 20 s timeout and an 8 GB address-space limit (RLIMIT_AS), and
SWIFT_BACKTRACE=enable=no so a crash is reported at once. Outcomes:
  clean       exit 1, stderr exactly one line starting "error: "
  success     exit 0
  multiline   exit 1, more than one stderr line
  odd-error   exit 1 with no stderr line, or one not starting "error: "
  usage       exit 64 (argument error; unexpected here)
  crash       killed by a signal, or any other exit status
  hang        still running after the timeout (killed)
  bomb        stderr mentions an allocation failure, or peak RSS above 2 GB
Counts are printed per style, class, command and outcome; everything other than clean and
success goes to the JSON report (--report), and the smallest file of up to 5 distinct bad
signatures is kept in --repro-dir. Exit status 1 if any crash, hang or bomb occurred.

Run by hand (never by `make test`); needs `pip install numpy h5py`:

    swift build -c release --scratch-path .build-campaign
    PARE=.build-campaign/release/pare python3 experiments/corruption_campaign.py --count 80

Work files live in a temporary folder under /work/scratch (or --work-root) that is removed at
the end.
"""
import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED = os.path.join(ROOT, "models", "pare-tiny.h5")
TIMEOUT = 20.0
ADDRESS_LIMIT = 8 << 30
RSS_BOMB_KB = 2 << 20  # 2 GB, ru_maxrss is in KiB on Linux
BYTE_CLASSES = ["truncate", "flip1", "flip8", "flip64", "flip-meta", "zero"]
H5_KINDS = ["shape", "dtype", "nonfinite", "delete", "extra", "huge", "attr", "vocab",
            "encoding", "csr-range", "bitmask-pop", "external"]
SPARSE_ONLY = {"encoding", "csr-range", "bitmask-pop"}
BAD = {"crash", "hang", "bomb"}
SIGNATURES = [b"OHDR", b"OCHK", b"TREE", b"HEAP", b"GCOL", b"SNOD", b"BTHD", b"BTIN", b"BTLF",
              b"FRHP", b"FHDB", b"FHIB", b"FSHD", b"FSSE", b"EAHD", b"EAIB", b"EADB", b"FAHD",
              b"FADB", b"SMTB", b"SMLI"]


# ---------------------------------------------------------------- base files

def h5py_copy(src, dst):
    """Copies every group, dataset and attribute with h5py's defaults (no filters, no chunking,
    default superblock)."""
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        def attrs(a, b):
            for k, v in a.attrs.items():
                b.attrs[k] = v
        attrs(fin, fout)

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                g = fout.require_group(name)
                attrs(obj, g)
            else:
                if obj.dtype.kind == "O":
                    data = obj.asstr()[()]
                    ds = fout.create_dataset(name, data=data, dtype=h5py.string_dtype("utf-8"))
                else:
                    ds = fout.create_dataset(name, data=obj[()])
                attrs(obj, ds)
        fin.visititems(visit)


def metadata_offsets(path, data):
    """Addresses of object headers (from h5py) and of HDF5 signatures found in the bytes."""
    offs = set()
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                try:
                    offs.add(int(h5py.h5o.get_info(obj.id).addr))
                except Exception:
                    pass
            offs.add(int(h5py.h5o.get_info(f.id).addr))
            f.visititems(visit)
    except Exception:
        pass
    for sig in SIGNATURES:
        i = data.find(sig)
        while i >= 0:
            offs.add(i)
            i = data.find(sig, i + 1)
    return sorted(o for o in offs if 0 <= o < len(data))


def h5_objects(path):
    """Dataset paths and sparse-group paths of a model file."""
    datasets, sparse = [], []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append(name)
            elif "encoding-type" in obj.attrs:
                sparse.append((name, obj.attrs["encoding-type"]))
        f.visititems(visit)
    return datasets, [(n, e.decode() if isinstance(e, bytes) else str(e)) for n, e in sparse]


class Base:
    def __init__(self, style, name, path):
        self.style, self.name, self.path = style, name, path
        with open(path, "rb") as fh:
            self.data = fh.read()
        self.meta = metadata_offsets(path, self.data)
        self.datasets, self.sparse = h5_objects(path)
        self.tensors = [d for d in self.datasets if d.startswith("model/")]


# ---------------------------------------------------------------- byte mutations

def near_meta(rng, base):
    if rng.random() < 0.3 or not base.meta:
        return rng.randrange(min(4096, len(base.data)))
    o = rng.choice(base.meta) + rng.randrange(-64, 512)
    return min(max(o, 0), len(base.data) - 1)


def byte_mutation(cls, rng, base):
    data = bytearray(base.data)
    n = len(data)
    if cls == "truncate":
        # Half uniform, half in the first 64 KiB where metadata lives.
        cut = rng.randrange(n) if rng.random() < 0.5 else rng.randrange(min(65536, n))
        return bytes(data[:cut]), f"truncate at {cut}"
    if cls.startswith("flip") and cls != "flip-meta":
        k = int(cls[4:])
        offs = [rng.randrange(n) for _ in range(k)]
        for o in offs:
            data[o] ^= rng.randrange(1, 256)
        return bytes(data), f"flip {k} bytes, first at {sorted(offs)[:4]}"
    if cls == "flip-meta":
        k = rng.choice([1, 1, 2, 4, 8, 16])
        offs = [near_meta(rng, base) for _ in range(k)]
        for o in offs:
            data[o] ^= rng.randrange(1, 256)
        return bytes(data), f"flip {k} metadata bytes at {sorted(offs)[:8]}"
    if cls == "zero":
        length = min(rng.choice([1, 4, 8, 16, 64, 512, 4096, 65536]), n)
        start = near_meta(rng, base) if rng.random() < 0.5 else rng.randrange(n - length + 1)
        start = min(start, n - length)
        data[start:start + length] = bytes(length)
        return bytes(data), f"zero {length} bytes at {start}"
    raise ValueError(cls)


# ---------------------------------------------------------------- h5py edits

def replace_dataset(f, name, **kw):
    attrs = dict(f[name].attrs)
    del f[name]
    ds = f.create_dataset(name, **kw)
    for k, v in attrs.items():
        ds.attrs[k] = v
    return ds


def h5_edit(kind, rng, base, out):
    shutil.copyfile(base.path, out)
    with h5py.File(out, "r+") as f:
        t = rng.choice(base.tensors)
        if kind == "shape":
            ds = f[t]
            shape = list(ds.shape)
            how = rng.choice(["minus", "plus", "transpose", "flat", "scalar", "3d", "empty"])
            if how == "minus":
                shape[rng.randrange(len(shape))] -= 1
            elif how == "plus":
                shape[rng.randrange(len(shape))] += rng.choice([1, 7, 1000])
            elif how == "transpose":
                shape = shape[::-1] if len(shape) > 1 else [1] + shape
            elif how == "flat":
                shape = [int(np.prod(shape))]
            elif how == "scalar":
                shape = []
            elif how == "3d":
                shape = [1] + shape
            else:
                shape = [0] + shape[1:]
            data = np.resize(ds[()], shape) if shape else np.array(1.0, dtype=ds.dtype)
            replace_dataset(f, t, data=data)
            return f"{t}: shape {list(ds.shape) if False else how} -> {shape}"
        if kind == "dtype":
            old = f[t][()]
            dt = rng.choice(["float64", "int32", "int8", "uint16", "bool", "complex64", "S4",
                             "str", "compound", "float16-be", "uint64"])
            if dt == "str":
                data = np.array([str(x) for x in old.reshape(-1)[:4]], dtype=object)
                replace_dataset(f, t, data=data, dtype=h5py.string_dtype())
            elif dt == "compound":
                c = np.zeros(old.shape, dtype=[("a", "<f4"), ("b", "<i4")])
                replace_dataset(f, t, data=c)
            elif dt == "float16-be":
                replace_dataset(f, t, data=old.astype(">f2"))
            elif dt == "S4":
                replace_dataset(f, t, data=old.astype("S4"))
            else:
                replace_dataset(f, t, data=old.astype(dt))
            # A uint16 dataset with the bfloat16 marker is a valid dtype; drop it sometimes.
            if dt == "uint16" and rng.random() < 0.5:
                f[t].attrs["dtype"] = "bfloat16"
            return f"{t}: dtype -> {dt}"
        if kind == "nonfinite":
            # Only value datasets: float, or uint16 carrying the bfloat16 marker.
            vals = [d for d in base.tensors if f[d].dtype.kind == "f" or "dtype" in f[d].attrs]
            t = rng.choice(vals)
            ds = f[t]
            flat = ds[()].reshape(-1).copy()
            if flat.size == 0:
                return f"{t}: empty, unchanged"
            k = rng.choice([1, 1, 3, flat.size])
            val = rng.choice([np.nan, np.inf, -np.inf])
            if flat.dtype.kind == "u":  # bfloat16: 0x7FC0 is NaN, 0x7F80 infinity
                bits = rng.choice([0x7FC0, 0x7F80, 0xFF80])
                flat[[rng.randrange(flat.size) for _ in range(k)]] = bits
            else:
                flat[[rng.randrange(flat.size) for _ in range(k)]] = val
            ds[...] = flat.reshape(ds.shape)
            return f"{t}: {k} values -> {val}"
        if kind == "delete":
            what = rng.random()
            if what < 0.6:
                victim = rng.choice(base.datasets)
                del f[victim]
                return f"delete dataset {victim}"
            if what < 0.85:
                obj = rng.choice([f, f["config"], f["tokenizer"]] +
                                 ([f["provenance"]] if "provenance" in f else []))
                keys = list(obj.attrs.keys())
                if keys:
                    k = rng.choice(keys)
                    del obj.attrs[k]
                    return f"delete attribute {obj.name}@{k}"
            victim = rng.choice(["config", "tokenizer", "model", "provenance",
                                 "model/transformer/blocks/0", "model/transformer/blocks/7"])
            if victim in f:
                del f[victim]
            return f"delete group {victim}"
        if kind == "extra":
            where = rng.choice(["model/extra", "model/transformer/blocks/8/q_proj/weight",
                                "model/transformer/blocks/0/q_proj/bias", "model/transformer/x",
                                "elsewhere/extra", "tokenizer/merges"]
                               + [g + "/extra" for g, _ in base.sparse])
            f.create_dataset(where, data=np.ones((3, 4), dtype="f4"))
            return f"extra dataset {where}"
        if kind == "huge":
            target = rng.choice(base.tensors + ["tokenizer/vocab"])
            how = rng.choice(["1d", "2d-rows", "2d-cols", "config"])
            if target == "tokenizer/vocab":
                replace_dataset(f, target, shape=(2**31,), chunks=(1024,),
                                dtype=h5py.string_dtype())
                return "tokenizer/vocab: shape (2**31,) chunked, no data"
            ds = f[target]
            dtype = ds.dtype
            if how == "1d":
                shape, chunks = (2**31,), (4096,)
            elif how == "2d-rows":
                shape, chunks = (2**31 - 1, ds.shape[-1]), (1, ds.shape[-1])
            elif how == "2d-cols":
                shape, chunks = (ds.shape[0], 2**31), (1, 4096)
            else:
                # Make the config agree with a huge embedding so shape checks pass.
                f["config"].attrs["vocab_size"] = np.int64(2**31 - 1)
                shape, chunks = (2**31 - 1, 128), (1, 128)
                target = "model/transformer/wte/weight"
                ds = f[target]
            # Compressed data may be any size, so only unwritten chunks tell it is missing.
            compression = rng.choice([None, "gzip"])
            replace_dataset(f, target, shape=shape, chunks=chunks, dtype=dtype, compression=compression)
            return f"{target}: shape {shape} chunked {chunks} {compression or ''}, no data ({how})"
        if kind == "external":
            # Data that would come from another file: external links (to the base file itself,
            # which exists), HDF5 external storage, virtual datasets.
            how = rng.choice(["link-dataset", "link-group", "storage", "virtual"])
            if how == "link-dataset":
                victim = rng.choice(base.datasets)
                del f[victim]
                f[victim] = h5py.ExternalLink(os.path.abspath(base.path), "/" + victim)
                return f"{victim}: external link"
            if how == "link-group":
                victim = rng.choice(["tokenizer", "config", "model/transformer/blocks/0", "provenance"])
                if victim in f:
                    del f[victim]
                f[victim] = h5py.ExternalLink(os.path.abspath(base.path), "/" + victim)
                return f"{victim}: external link (group)"
            values = f[t][()]
            if how == "storage":
                raw = out + ".raw"
                with open(raw, "wb") as handle:
                    handle.write(values.tobytes())
                replace_dataset(f, t, shape=values.shape, dtype=values.dtype,
                                external=[(os.path.basename(raw), 0, values.nbytes)])
                return f"{t}: external storage"
            layout = h5py.VirtualLayout(shape=values.shape, dtype=values.dtype)
            layout[...] = h5py.VirtualSource(os.path.abspath(base.path), t, shape=values.shape)
            attrs = dict(f[t].attrs)
            del f[t]
            ds = f.create_virtual_dataset(t, layout)
            for k, v in attrs.items():
                ds.attrs[k] = v
            return f"{t}: virtual dataset"
        if kind == "attr":
            choice = rng.randrange(10)
            cfg = f["config"].attrs
            key = rng.choice(list(cfg.keys()))
            if choice == 0:
                cfg[key] = "12"
                return f"config@{key} -> str"
            if choice == 1:
                cfg[key] = np.array([8, 8], dtype="i8")
                return f"config@{key} -> 2-element array"
            if choice == 2:
                v = rng.choice([0, -1, 2**31, 2**40, 2**63 - 1, -2**63, 65537, 3])
                cfg[key] = np.int64(v)
                return f"config@{key} -> {v}"
            if choice == 3:
                v = rng.choice([float("nan"), float("inf"), -1.0, 0.0, 1e308])
                cfg[key] = np.float64(v)
                return f"config@{key} -> {v}"
            if choice == 4:
                cfg[key] = np.zeros(1, dtype=[("a", "i4")])
                return f"config@{key} -> compound"
            if choice == 5:
                v = rng.choice(["pare-dlm ", "", "PARE-DLM", 1])
                f.attrs["format"] = v
                return f"@format -> {v!r}"
            if choice == 6:
                v = rng.choice([0, 2, -1, 2**62, "1", 1.0])
                f.attrs["format_version"] = v
                return f"@format_version -> {v!r}"
            if choice == 7:
                v = rng.choice(["bpe", "", 3, np.bytes_(b"ch\0ar")])
                f["tokenizer"].attrs["kind"] = v
                return f"tokenizer@kind -> {v!r}"
            if choice == 8:
                v = rng.choice(["", "[", "{}", "[1,2]", "[{}]" * 3, "[" * 100000, "null",
                                '[{"op": "x"}]' + " " * 10, 7, "\udcff".encode("utf-8",
                                "surrogatepass")])
                if "provenance" not in f:
                    f.create_group("provenance")
                f["provenance"].attrs["history"] = v
                return f"provenance@history -> {str(v)[:30]!r}"
            v = rng.choice([0, -1, 2**32, 1719845775, "x"])
            f["tokenizer"].attrs["vocab_crc32"] = v
            return f"tokenizer@vocab_crc32 -> {v!r}"
        if kind == "vocab":
            voc = list(f["tokenizer/vocab"].asstr()[()])
            how = rng.choice(["long", "empty", "dup", "shorter", "longer", "utf8-bad",
                              "unicode", "inplace", "fixed", "int"])
            crc_fix = rng.random() < 0.5
            i = rng.randrange(len(voc))
            if how == "inplace":
                f["tokenizer/vocab"][i] = rng.choice(["", "é", "xyz" * 1000, "\0"])
                return f"vocab[{i}] rewritten in place"
            if how == "long":
                voc[i] = "a" * rng.choice([2, 1000, 1 << 20])
            elif how == "empty":
                voc[i] = ""
            elif how == "dup":
                voc[i] = voc[(i + 1) % len(voc)]
            elif how == "shorter":
                voc = voc[:-1]
            elif how == "longer":
                voc = voc + ["!"]
            elif how == "unicode":
                voc[i] = rng.choice(["é", "😀", "\u0000", "\ufeff"])
            if how == "utf8-bad":
                raw = [s.encode() for s in voc]
                raw[i] = b"\xff\xfe"
                replace_dataset(f, "tokenizer/vocab", data=np.array(raw, dtype=object),
                                dtype=h5py.string_dtype("utf-8"))
            elif how == "fixed":
                replace_dataset(f, "tokenizer/vocab", data=np.array([s.encode() for s in voc],
                                                                   dtype="S8"))
            elif how == "int":
                replace_dataset(f, "tokenizer/vocab", data=np.arange(len(voc)))
            else:
                replace_dataset(f, "tokenizer/vocab", data=np.array(voc, dtype=object),
                                dtype=h5py.string_dtype("utf-8"))
            if crc_fix:
                import zlib
                try:
                    f["tokenizer"].attrs["vocab_crc32"] = np.int64(zlib.crc32(
                        b"".join(s.encode("utf-8") + b"\0" for s in voc)))
                except Exception:
                    pass
            return f"vocab {how} at {i} (crc {'fixed' if crc_fix else 'stale'})"
        # Sparse-only edits.
        g, enc = rng.choice(base.sparse)
        grp = f[g]
        if kind == "encoding":
            v = rng.choice(["csr_matrix", "bitmask", "n_of_m", "csc_matrix", "", "BITMASK",
                            3, np.bytes_(b"bit\0mask"), "bitmask" * 100])
            grp.attrs["encoding-type"] = v
            if rng.random() < 0.3:
                grp.attrs["encoding-version"] = rng.choice(["0.2.0", 1, ""])
            if rng.random() < 0.3:
                grp.attrs["shape"] = rng.choice([np.array([128], "i8"),
                                                 np.array([2**40, 2**40], "i8"),
                                                 np.array([-1, 128], "i8"), "128,128"])
            return f"{g}@encoding-type {enc} -> {v!r}"
        if kind == "csr-range":
            if "indices" not in grp:
                return f"{g}: not csr, unchanged"
            idx = grp["indices"][()].astype(np.int64)
            ptr = grp["indptr"][()].astype(np.int64)
            how = rng.choice(["col-oob", "col-max", "unsorted", "ptr-dec", "ptr-end",
                              "ptr-start", "ptr-huge", "ptr-neg"])
            if how in ("col-oob", "col-max", "unsorted") and idx.size:
                j = rng.randrange(idx.size)
                if how == "col-oob":
                    idx[j] = grp.attrs["shape"][1] + rng.randrange(0, 100)
                elif how == "col-max":
                    idx[j] = np.iinfo(grp["indices"].dtype).max
                else:
                    idx[j] = 0
                grp["indices"][...] = idx.astype(grp["indices"].dtype)
                return f"{g}: indices[{j}] {how}"
            j = rng.randrange(1, ptr.size)
            if how == "ptr-dec":
                ptr[j] = max(ptr[j - 1] - 1, 0) if ptr[j - 1] > 0 else 5
            elif how == "ptr-end":
                ptr[-1] += rng.choice([-1, 1, 1000])
            elif how == "ptr-start":
                ptr[0] = 1
            elif how == "ptr-huge":
                ptr[j] = 2**62
            else:
                ptr[j] = -5
            grp["indptr"][...] = ptr.astype(grp["indptr"].dtype) if grp["indptr"].dtype.kind \
                == "i" else ptr
            return f"{g}: indptr {how} at {j}"
        if kind == "bitmask-pop":
            if "bitmask" not in grp:
                return f"{g}: not bitmask, unchanged"
            bm = grp["bitmask"][()]
            how = rng.choice(["set", "clear", "tail", "all", "none", "values-short"])
            r, c = rng.randrange(bm.shape[0]), rng.randrange(bm.shape[1])
            if how == "set":
                bm[r, c] |= 1 << rng.randrange(8)
            elif how == "clear":
                bm[r, c] = 0
            elif how == "tail":
                bm[r, -1] |= 0x80
            elif how == "all":
                bm[...] = 0xFF
            elif how == "none":
                bm[...] = 0
            if how == "values-short":
                vals = grp["values"][()]
                replace_dataset(f, g + "/values", data=vals[:-1])
            else:
                grp["bitmask"][...] = bm
            return f"{g}: bitmask {how} at [{r},{c}]"
    raise ValueError(kind)


# ---------------------------------------------------------------- running pare

def limit():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_LIMIT, ADDRESS_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(pare, args, work):
    out_path, err_path = os.path.join(work, "stdout"), os.path.join(work, "stderr")
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen([pare] + args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             preexec_fn=limit, start_new_session=True, env=env)
        status, usage, hung, delay = None, None, False, 0.002
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                status, usage = st, ru
                break
            if time.monotonic() - t0 > TIMEOUT:
                hung = True
                os.killpg(p.pid, signal.SIGKILL)
                _, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        p.returncode = 0  # reaped above; keep Popen from waiting again
        seconds = time.monotonic() - t0
    with open(err_path, "rb") as fh:
        stderr = fh.read().decode("utf-8", "replace")
    return classify(status, usage.ru_maxrss, stderr, hung) + (seconds,)


def classify(status, maxrss_kb, stderr, hung):
    lines = [l for l in stderr.splitlines() if l.strip()]
    alloc = any(s in stderr.lower() for s in ("failed to allocate", "out of memory",
                                              "cannot allocate memory", "std::bad_alloc"))
    detail = {"stderr": stderr[:2000], "maxrss_mb": round(maxrss_kb / 1024, 1)}
    if hung:
        return "hang", detail
    if alloc or maxrss_kb > RSS_BOMB_KB:
        detail["status"] = status
        return "bomb", detail
    if os.WIFSIGNALED(status):
        detail["signal"] = os.WTERMSIG(status)
        return "crash", detail
    code = os.WEXITSTATUS(status)
    detail["exit"] = code
    if code == 0:
        return "success", detail
    if code == 1:
        if len(lines) == 1 and lines[0].startswith("error: "):
            return "clean", detail
        return ("multiline" if len(lines) > 1 else "odd-error"), detail
    if code == 64:
        return "usage", detail
    return "crash", detail


def signature(cmd, outcome, detail):
    first = (detail.get("stderr") or "").strip().splitlines()[:1]
    text = first[0] if first else ""
    # Drop file paths and numbers so one bug is one signature.
    text = " ".join("N" if any(ch.isdigit() for ch in w) or "/" in w else w
                    for w in text.split())[:120]
    return f"{cmd}|{outcome}|{detail.get('signal', detail.get('exit'))}|{text}"


# ---------------------------------------------------------------- main

def make_bases(pare, work):
    """The pare-written files and their h5py-default copies."""
    dense = os.path.join(work, "pare-dense.h5")
    shutil.copyfile(BUNDLED, dense)
    files = {"dense": dense}
    for store in ("bitmask", "csr"):
        out = os.path.join(work, f"pare-{store}.h5")
        subprocess.run([pare, "prune", "--model", BUNDLED, "--sparsity", "0.5", "--store", store,
                        "--output", out], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        files[store] = out
    bases = {"pare": [], "h5py": []}
    for name, path in files.items():
        bases["pare"].append(Base("pare", name, path))
        copy = os.path.join(work, f"h5py-{name}.h5")
        h5py_copy(path, copy)
        bases["h5py"].append(Base("h5py", name, copy))
    return bases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pare", default=os.environ.get("PARE", ".build/release/pare"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=80, help="files per class and writer style")
    ap.add_argument("--work-root", default="/work/scratch")
    ap.add_argument("--report", default="/work/scratch/campaign-report.json")
    ap.add_argument("--repro-dir", default="/work/scratch/campaign-repro")
    ap.add_argument("--classes", default=",".join(BYTE_CLASSES + ["h5:" + k for k in H5_KINDS]))
    ap.add_argument("--styles", default="pare,h5py")
    a = ap.parse_args()
    pare = os.path.abspath(a.pare)
    if not os.access(pare, os.X_OK):
        sys.exit(f"no pare binary at {pare}: build it with "
                 "`swift build -c release --scratch-path .build-campaign` and pass PARE=")
    os.makedirs(a.work_root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="campaign-", dir=a.work_root)
    t_start = time.monotonic()
    counts = defaultdict(Counter)
    bad, kept, refused = [], {}, []
    total = 0
    try:
        bases = make_bases(pare, work)
        cands = os.path.join(work, "candidates")
        os.makedirs(cands)
        # The unmutated bases must load: otherwise every result below is meaningless.
        for style in bases.values():
            for b in style:
                for cmd in ("inspect", "generate"):
                    args = ["inspect", "--model", b.path] if cmd == "inspect" else \
                        ["generate", "--model", b.path, "--prompt", "1+2=", "--gen-length", "4"]
                    outcome, detail, _ = run(pare, args, work)
                    if outcome != "success":
                        sys.exit(f"base {b.style}/{b.name} fails {cmd}: {detail['stderr']}")
        for style in a.styles.split(","):
            for cls in a.classes.split(","):
                rng = random.Random(f"{a.seed}/{style}/{cls}")
                for i in range(a.count):
                    if cls.startswith("h5:"):
                        kind = cls[3:]
                        pool = [b for b in bases[style] if b.sparse] if kind in SPARSE_ONLY \
                            else bases[style]
                        if kind == "csr-range":
                            pool = [b for b in pool if b.name == "csr"]
                        if kind == "bitmask-pop":
                            pool = [b for b in pool if b.name == "bitmask"]
                        base = rng.choice(pool)
                        path = os.path.join(work, "mutant.h5")
                        try:
                            what = h5_edit(kind, rng, base, path)
                        except Exception as e:  # an edit h5py refuses: record and move on
                            what = f"h5py refused: {type(e).__name__}: {e}"[:200]
                            counts[(style, cls, "-")]["h5py-refused"] += 1
                            refused.append({"style": style, "class": cls, "index": i,
                                            "base": base.name, "error": what})
                            continue
                        label = cls
                    else:
                        base = bases[style][i % len(bases[style])]
                        blob, what = byte_mutation(cls, rng, base)
                        path = os.path.join(work, "mutant.h5")
                        with open(path, "wb") as fh:
                            fh.write(blob)
                        label = cls
                    total += 1
                    size = os.path.getsize(path)
                    for cmd in ("inspect", "generate"):
                        args = ["inspect", "--model", path] if cmd == "inspect" else \
                            ["generate", "--model", path, "--prompt", "1+2=", "--gen-length", "4"]
                        outcome, detail, secs = run(pare, args, work)
                        counts[(style, label, cmd)][outcome] += 1
                        if outcome in ("clean", "success"):
                            continue
                        sig = signature(cmd, outcome, detail)
                        case = {"style": style, "class": label, "base": base.name, "index": i,
                                "mutation": what, "command": cmd, "outcome": outcome,
                                "seconds": round(secs, 2), "size": size, "signature": sig,
                                **detail}
                        bad.append(case)
                        # Smallest file per signature, chosen among at the end.
                        if sig not in kept or size < kept[sig]["size"]:
                            h = hashlib.sha1(sig.encode()).hexdigest()[:8]
                            dst = os.path.join(cands, f"{outcome}-{h}.h5")
                            shutil.copyfile(path, dst)
                            kept[sig] = {"size": size, "file": dst, "case": case}
                    os.remove(path)
                print(f"  {style:5} {cls:14} done ({total} files, "
                      f"{time.monotonic() - t_start:.0f} s)", file=sys.stderr, flush=True)
        # Keep up to 5 repro files: crash/hang/bomb signatures first, then the others.
        chosen = sorted(kept.items(), key=lambda kv: (kv[1]["case"]["outcome"] not in BAD,
                                                      kv[1]["size"]))[:5]
        if chosen:
            os.makedirs(a.repro_dir, exist_ok=True)
        for sig, v in chosen:
            dst = os.path.join(a.repro_dir, os.path.basename(v["file"]))
            shutil.copyfile(v["file"], dst)
            v["file"] = dst
        kept = dict(chosen)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    outcomes = ["clean", "success", "multiline", "odd-error", "usage", "crash", "hang", "bomb",
                "h5py-refused"]
    print(f"{'style':6} {'class':22} {'command':9} " + " ".join(f"{o:>9}" for o in outcomes))
    grand = Counter()
    for key in sorted(counts):
        c = counts[key]
        grand.update(c)
        print(f"{key[0]:6} {key[1]:22} {key[2]:9} " + " ".join(f"{c[o]:9d}" for o in outcomes))
    print(f"{'total':6} {'':22} {'':9} " + " ".join(f"{grand[o]:9d}" for o in outcomes))
    elapsed = time.monotonic() - t_start
    print(f"{total} corrupted files, {2 * total} pare runs, {elapsed:.0f} s")
    report = {"seed": a.seed, "count": a.count, "files": total, "seconds": round(elapsed, 1),
              "counts": {"|".join(k): dict(v) for k, v in sorted(counts.items())},
              "repro": {s: {"file": v["file"], "size": v["size"], "mutation": v["case"]["mutation"],
                            "command": v["case"]["command"]} for s, v in kept.items()},
              "h5py_refused": refused, "bad": bad}
    with open(a.report, "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(f"bad cases (not clean/success): {len(bad)}; report {a.report}")
    for s, v in kept.items():
        print(f"  repro {v['file']} ({v['size']} bytes): {s}")
    sys.exit(1 if any(grand[o] for o in BAD) else 0)


if __name__ == "__main__":
    main()
