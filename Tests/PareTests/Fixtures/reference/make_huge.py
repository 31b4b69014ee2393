"""Writes the `huge/` fixtures: small files that declare absurd sizes, which Pare must refuse
with one clear error before allocating anything (issue #10). Regenerate with
`python3 make_huge.py` (h5py 3.x) from this folder.

- unwritten-compressed.h5: tiny-gqa-f16.h5 with d_ff = 2^30; its 9 feed-forward tensors
  ([2^30, 32] or [32, 2^30], 64 GiB each as float16) are gzip-compressed chunked datasets whose
  chunks were never written. The file is a few KB; HDF5 would fill each with zeros when read.
- overflow-config.h5: the root, /config and /tokenizer of tiny-gqa-f16.h5 with d_model = 2^30,
  n_heads = 4, n_kv_heads = 2 and d_ff = 2^31 - 1: about 2^64 parameters, more than an Int holds.
"""
import os

import h5py

SOURCE = "tiny-gqa-f16.h5"
FEED_FORWARD = ("ff_proj", "up_proj", "ff_out")
os.makedirs("huge", exist_ok=True)


def copy_attrs(src, dst):
    for key, value in src.attrs.items():
        dst.attrs[key] = value


with h5py.File(SOURCE, "r") as src:
    d_ff = 1 << 30
    with h5py.File("huge/unwritten-compressed.h5", "w") as dst:
        copy_attrs(src, dst)
        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                copy_attrs(obj, dst.require_group(name))
                return
            parent = os.path.dirname(name)
            if "/blocks/" in name and os.path.basename(parent) in FEED_FORWARD:
                rows, cols = obj.shape
                shape = (d_ff, cols) if rows == 48 else (rows, d_ff)
                dst.create_dataset(name, shape=shape, dtype=obj.dtype, chunks=(1024, min(32, shape[1])) if shape[0] == d_ff else (32, 1024),
                                   compression="gzip")
            else:
                src.copy(obj, dst[parent], name=os.path.basename(name))
        src.visititems(visit)
        dst["config"].attrs["d_ff"] = d_ff

    with h5py.File("huge/overflow-config.h5", "w") as dst:
        copy_attrs(src, dst)
        for group in ("config", "tokenizer"):
            src.copy(src[group], dst, name=group)
        dst["config"].attrs["d_model"] = 1 << 30
        dst["config"].attrs["n_heads"] = 4
        dst["config"].attrs["n_kv_heads"] = 2
        dst["config"].attrs["d_ff"] = (1 << 31) - 1

for name in sorted(os.listdir("huge")):
    print(f"wrote huge/{name} ({os.path.getsize(os.path.join('huge', name))} bytes)")
