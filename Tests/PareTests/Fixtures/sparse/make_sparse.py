"""Writes the sparse-encoding fixtures from ../reference/tiny-gqa.h5 with numpy, scipy and h5py only.

- tiny-gqa-2of4.h5: every block linear pruned 2:4 by magnitude (the two largest |w| of every four
  consecutive inputs kept), and in every seventh group one more weight zeroed, so some groups
  keep only one of four; stored dense with zeros (the pare-dlm v1 layout).
- tiny-gqa-2of4-sparse.h5: the same weights with every block linear stored as a group in one of
  the three encodings of docs/format.md ("Sparse tensors"), rotating csr_matrix, bitmask, n_of_m
  over the block's linears. They are written the way another tool would: h5py defaults (no
  chunks, no checksums, variable-length str attributes), scipy's int32 CSR arrays (one tensor
  with int64 indptr), and N:M slots in a different order than Pare writes (kept positions
  first, padding at the highest unused position).

Pare must read the second file into exactly the tensors of the first (SparseFileTests).

    python3 make_sparse.py   (numpy 2.x, scipy, h5py 3.x; output is byte-identical on every run)
"""
import os
import shutil

import h5py
import numpy as np
import scipy.sparse as sp

here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "..", "reference", "tiny-gqa.h5")
dense_path = os.path.join(here, "tiny-gqa-2of4.h5")
sparse_path = os.path.join(here, "tiny-gqa-2of4-sparse.h5")

LINEARS = ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]
ENCODINGS = ["csr_matrix", "bitmask", "n_of_m"]
N, M = 2, 4


def prune_2of4(w):
    """Keeps the N largest |w| of every M consecutive inputs; ties keep the lower index."""
    rows, cols = w.shape
    groups = np.abs(w).reshape(rows, cols // M, M)
    order = np.argsort(-groups, axis=2, kind="stable")          # largest first
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, order[:, :, :N], True, axis=2)
    # Every seventh group (in row-major group order) drops its smaller kept weight too.
    flat_keep = keep.reshape(-1, M)
    flat_order = order.reshape(-1, M)
    for g in range(0, flat_keep.shape[0], 7):
        flat_keep[g, flat_order[g, N - 1]] = False
    return np.where(keep.reshape(rows, cols), w, np.float32(0)).astype(np.float32)


def write_group(f, path, w, encoding, wide_indptr):
    rows, cols = w.shape
    g = f.create_group(path)
    g.attrs["encoding-type"] = encoding
    g.attrs["encoding-version"] = "0.1.0"
    g.attrs["shape"] = np.array([rows, cols], dtype=np.int64)
    if encoding == "csr_matrix":
        m = sp.csr_matrix(w)
        g.create_dataset("data", data=m.data.astype(np.float32))
        g.create_dataset("indices", data=m.indices)                 # int32, scipy's choice
        g.create_dataset("indptr", data=m.indptr.astype(np.int64) if wide_indptr else m.indptr)
    elif encoding == "bitmask":
        mask = w != 0
        g.create_dataset("bitmask", data=np.packbits(mask, axis=1, bitorder="little"))
        g.create_dataset("values", data=w[mask])                   # row-major order
    else:
        g.attrs["n"] = np.int64(N)
        g.attrs["m"] = np.int64(M)
        groups = w.reshape(rows, cols // M, M)
        positions = np.zeros((rows, cols // M, N), dtype=np.uint8)
        values = np.zeros((rows, cols // M, N), dtype=np.float32)
        for r in range(rows):
            for k in range(cols // M):
                kept = [p for p in range(M) if groups[r, k, p] != 0]
                unused = [p for p in range(M) if groups[r, k, p] == 0]
                slots = kept + unused[::-1][: N - len(kept)]        # pad at the highest unused positions
                positions[r, k] = slots
                values[r, k] = groups[r, k, slots]
        g.create_dataset("indices", data=positions.reshape(rows, -1))
        g.create_dataset("values", data=values.reshape(rows, -1))


def main():
    shutil.copyfile(source, dense_path)
    # The sparse file is written fresh (HDF5 does not reclaim deleted datasets): everything but
    # the block linears is copied from the source as it is.
    with h5py.File(dense_path, "r+") as dense, h5py.File(sparse_path, "w", libver=("v108", "v108")) as sparse:
        for key, value in dense.attrs.items():
            sparse.attrs[key] = value
        for group in ["config", "tokenizer", "provenance"]:
            dense.copy(dense[group], sparse, name=group)
        layers = int(dense["config"].attrs["n_layers"])
        counts = {e: 0 for e in ENCODINGS}
        linear_paths = {f"model/transformer/blocks/{b}/{name}/weight" for b in range(layers) for name in LINEARS}
        others = []
        dense["model"].visititems(lambda n, o: others.append("model/" + n) if isinstance(o, h5py.Dataset) else None)
        for path in others:
            if path not in linear_paths:
                sparse.create_dataset(path, data=dense[path][()])
        for b in range(layers):
            for i, name in enumerate(LINEARS):
                path = f"model/transformer/blocks/{b}/{name}/weight"
                w = prune_2of4(dense[path][()])
                dense[path][...] = w
                encoding = ENCODINGS[(b + i) % len(ENCODINGS)]
                counts[encoding] += 1
                write_group(sparse, path, w, encoding, wide_indptr=(b == 0 and name == "q_proj"))
        for f, note in [(dense, "2:4 magnitude by make_sparse.py"), (sparse, "2:4 magnitude, sparse-encoded by make_sparse.py")]:
            history = f["provenance"].attrs["history"]
            f["provenance"].attrs["history"] = history[:-1] + ', {"op": "' + note + '"}]'
    print("wrote", dense_path)
    print("wrote", sparse_path, "-", ", ".join(f"{e} {c}" for e, c in counts.items()))


if __name__ == "__main__":
    main()
