"""Writes the `external/` fixtures: model files whose data would come from another file, which
Pare must refuse with one clear error (issue #10). Regenerate with `python3 make_external.py`
(h5py 3.x) from this folder.

- external-link-vocab.h5: root attributes of tiny-gqa-f16.h5 and a /tokenizer group whose
  `vocab` is an external link to tiny-gqa-f16.h5's /tokenizer/vocab.
- external-link-group.h5: the same, but /tokenizer itself is an external link.
- external-storage.h5 (+ external-storage.bin): tiny-gqa-f16.h5 copied with its token embedding
  stored in the raw file external-storage.bin (HDF5 "external storage").
- virtual.h5: tiny-gqa-f16.h5 copied with its token embedding a virtual dataset mapped from
  tiny-gqa-f16.h5.
"""
import os

import h5py

SOURCE = "tiny-gqa-f16.h5"
EMBEDDING = "model/transformer/wte/weight"
os.makedirs("external", exist_ok=True)


def copy_all(src, dst, skip=None):
    for key, value in src.attrs.items():
        dst.attrs[key] = value
    def visit(name, obj):
        if name == skip or isinstance(obj, h5py.Group):
            if isinstance(obj, h5py.Group):
                group = dst.require_group(name)
                for k, v in obj.attrs.items():
                    group.attrs[k] = v
            return
        dst.require_group(os.path.dirname(name) or "/")
        src.copy(obj, dst[os.path.dirname(name) or "/"], name=os.path.basename(name))
    src.visititems(visit)


with h5py.File(SOURCE, "r") as src:
    # External links name the target relative to the linking file's folder.
    target = os.path.join("..", SOURCE)
    with h5py.File("external/external-link-vocab.h5", "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        group = dst.create_group("tokenizer")
        for key, value in src["tokenizer"].attrs.items():
            group.attrs[key] = value
        group["vocab"] = h5py.ExternalLink(target, "/tokenizer/vocab")
    with h5py.File("external/external-link-group.h5", "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst["tokenizer"] = h5py.ExternalLink(target, "/tokenizer")

    weights = src[EMBEDDING][()]
    with open("external/external-storage.bin", "wb") as raw:
        raw.write(weights.tobytes())
    with h5py.File("external/external-storage.h5", "w") as dst:
        copy_all(src, dst, skip=EMBEDDING)
        dst.create_dataset(EMBEDDING, shape=weights.shape, dtype=weights.dtype,
                           external=[("external-storage.bin", 0, weights.nbytes)])
    with h5py.File("external/virtual.h5", "w") as dst:
        copy_all(src, dst, skip=EMBEDDING)
        layout = h5py.VirtualLayout(shape=weights.shape, dtype=weights.dtype)
        layout[:] = h5py.VirtualSource(target, EMBEDDING, shape=weights.shape)
        dst.create_virtual_dataset(EMBEDDING, layout)

for name in sorted(os.listdir("external")):
    print(f"wrote external/{name} ({os.path.getsize(os.path.join('external', name))} bytes)")
