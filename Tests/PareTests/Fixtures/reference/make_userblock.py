"""Writes tiny-gqa-userblock.h5: tiny-gqa-f16.h5 copied by h5py into a file that starts with a
512-byte user block (HDF5 places the superblock after it), to check that Pare reads such valid
files. Regenerate with `python3 make_userblock.py` (h5py 3.x)."""
import h5py

with h5py.File("tiny-gqa-f16.h5", "r") as src, h5py.File("tiny-gqa-userblock.h5", "w", userblock_size=512) as dst:
    for key, value in src.attrs.items():
        dst.attrs[key] = value
    for key in src.keys():
        src.copy(src[key], dst, name=key)
print("wrote tiny-gqa-userblock.h5")
