"""Writes tiny-gqa-bf16.h5: tiny-gqa.h5 with every tensor narrowed to bfloat16 by numpy.

bfloat16 is stored as a uint16 dataset (the upper 16 bits of the float32 pattern, rounded to
nearest even) with the attribute dtype = "bfloat16" (docs/format.md). The rounding here is
numpy's, written independently of Pare, so a test can check Pare's reader against it and
Pare's own bfloat16 writer against these bits.

    python3 make_bf16.py   (needs numpy and h5py)
"""
import os
import shutil

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "tiny-gqa.h5")
target = os.path.join(here, "tiny-gqa-bf16.h5")


def to_bfloat16_bits(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


shutil.copyfile(source, target)
with h5py.File(target, "r+") as f:
    names = []
    f["model"].visititems(lambda name, obj: names.append("model/" + name) if isinstance(obj, h5py.Dataset) else None)
    for name in names:
        values = f[name][()]
        del f[name]
        ds = f.create_dataset(name, data=to_bfloat16_bits(values), fletcher32=True, chunks=True)
        ds.attrs["dtype"] = "bfloat16"
    history = f["provenance"].attrs["history"]
    f["provenance"].attrs["history"] = history[:-1] + (", " if history != "[]" else "") + '{"op": "bf16 by make_bf16.py"}]'
print("wrote", target)
