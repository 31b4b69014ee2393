"""Reads a Pare model file with sparse-encoded block linears using only h5py, numpy and scipy,
and checks every tensor against the same model stored dense (docs/format.md, "Sparse tensors").

    python3 experiments/read_sparse_h5.py SPARSE.h5 DENSE.h5

Example, from a dense pruned model:

    pare prune --model M.h5 --sparsity 0.7 --output dense.h5
    pare export dense.h5 --format sparse-h5 --store csr --output csr.h5
    python3 experiments/read_sparse_h5.py csr.h5 dense.h5

csr_matrix groups are read with scipy.sparse.csr_matrix((data, indices, indptr), shape=shape),
exactly as anndata's CSR encoding is read; bitmask groups with numpy.unpackbits(...,
bitorder="little"); n_of_m groups by scattering each slot to column m * group + position.
Every value must be bit-identical to the dense file's (float32 after widening float16 and
bfloat16). Run by hand; `make test` does not run it. Exit status 0 when everything matches.
"""
import sys

import h5py
import numpy as np
import scipy.sparse as sp


def text(value):
    """String attributes: str (variable-length, as h5py writes) or bytes (fixed-length, as Pare writes)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def values(ds):
    """A value dataset widened to float32: bfloat16 is uint16 bits plus the attribute dtype = "bfloat16"."""
    raw = ds[()]
    if "dtype" in ds.attrs and text(ds.attrs["dtype"]) == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def read_sparse(group):
    kind = text(group.attrs["encoding-type"])
    assert text(group.attrs["encoding-version"]) == "0.1.0", group.name
    rows, cols = (int(x) for x in group.attrs["shape"])
    if kind == "csr_matrix":
        matrix = sp.csr_matrix((values(group["data"]), group["indices"][()], group["indptr"][()]), shape=(rows, cols))
        assert matrix.has_sorted_indices, group.name
        return matrix.toarray(), kind
    if kind == "bitmask":
        mask = np.unpackbits(group["bitmask"][()], axis=1, count=cols, bitorder="little").astype(bool)
        dense = np.zeros((rows, cols), dtype=np.float32)
        dense[mask] = values(group["values"])  # boolean indexing fills in row-major order
        return dense, kind
    if kind == "n_of_m":
        n, m = int(group.attrs["n"]), int(group.attrs["m"])
        positions = group["indices"][()].astype(np.int64)         # [rows, cols / m * n]
        slot_values = values(group["values"])                     # [rows, cols / m * n]
        columns = (np.arange(positions.shape[1]) // n) * m + positions
        dense = np.zeros((rows, cols), dtype=np.float32)
        np.put_along_axis(dense, columns, slot_values, axis=1)
        return dense, f"n_of_m {n}:{m}"
    raise ValueError(f"{group.name}: unknown encoding-type {kind}")


def read_all(path):
    tensors, kinds = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            full = "model/" + name
            if isinstance(obj, h5py.Group) and "encoding-type" in obj.attrs:
                tensors[full], kinds[full] = read_sparse(obj)
            elif isinstance(obj, h5py.Dataset) and not any(full.startswith(k + "/") for k in kinds):
                tensors[full], kinds[full] = values(obj), "dense"
        f["model"].visititems(visit)
    return tensors, kinds


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sparse, kinds = read_all(sys.argv[1])
    dense, _ = read_all(sys.argv[2])
    assert sorted(sparse) == sorted(dense), "the two files hold different tensors"
    failures = 0
    counts = {}
    for name in sorted(dense):
        a, b = sparse[name], dense[name]
        # Bit patterns, so -0.0 vs 0.0 or a changed NaN would show; a pruned position reads as
        # +0 from a sparse group, and adding +0 turns a dense -0 into +0 as well.
        same = a.shape == b.shape and np.array_equal(a.view(np.uint32), (b + np.float32(0)).view(np.uint32))
        counts[kinds[name]] = counts.get(kinds[name], 0) + 1
        if not same:
            failures += 1
            print(f"DIFFERS  {name} ({kinds[name]})")
    print("tensors by encoding:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("all tensors bit-identical" if failures == 0 else f"{failures} tensors differ")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
