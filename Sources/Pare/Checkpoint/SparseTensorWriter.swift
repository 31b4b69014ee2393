/// Writing block linears in the sparse encodings (docs/format.md, "Sparse tensors").
extension ModelWriter {
    /// Writes a weight under its HF key: dense as one dataset, or (block linears only) as a
    /// group in `encoding`, its values in the key's storage precision. A dense `Linear` is
    /// converted exactly (its zeros are the pruned weights); a sparse one is written as it is.
    public func write(_ key: String, _ linear: Linear, encoding: TensorEncoding) throws {
        guard encoding.isSparse, let encodingType = encoding.encodingType else { return try write(key, linear.weight) }
        guard let shape = expected[key] else { throw fail("tensor \(key) is not part of the config") }
        guard BlockLinear.parse(key: key) != nil else {
            throw fail("tensor \(key) cannot be stored \(encoding.storeName): only block linear weights may be sparse")
        }
        guard linear.shape == shape else { throw fail("tensor \(key) has shape \(linear.shape), expected \(shape)") }
        guard !written.contains(key) else { throw fail("tensor \(key) is written twice") }

        // Everything that depends on the values is worked out before the file is touched.
        let matrix: BitmaskMatrix
        switch linear.storage {
        case .sparse(let sparse): matrix = sparse
        case .dense(let dense): matrix = BitmaskMatrix(dense: dense)
        case .packed(let packed): matrix = BitmaskMatrix(dense: packed.dense)
        }
        let storage = dtype(key)
        let kept = Array(matrix.keptValues)
        if let bad = Self.firstUnstorable(kept, as: storage) {
            let value = kept[bad], position = matrix.position(ofKept: bad)
            throw fail(value.isFinite ? "tensor \(key) value \(value) at \(position) overflows \(storage.rawValue)"
                                      : "tensor \(key) holds \(value) at \(position)")
        }
        let rows = shape[0], cols = shape[1]
        var nOfM: (positions: [UInt8], values: [Float])?
        if case .nOfM(let n, let m) = encoding {
            do {
                nOfM = try matrix.nOfMParts(n: n, m: m)
            } catch SparseFormatError.inconsistent(let why) {
                throw fail("tensor \(key) cannot be stored as \(n) of \(m): \(why)")
            }
        }

        let groupPath = Checkpoint.datasetPath(for: key)
        try attempt {
            guard let file else { throw H5ContentProblem("the writer is closed") }
            let group = try file.createGroup(groupPath)
            // Fixed-length strings, like the bfloat16 marker: their bytes sit in the checksummed
            // object header rather than in HDF5's unchecksummed global heap.
            try group.writeFixedStringAttribute(SparseGroup.typeAttribute, encodingType)
            try group.writeFixedStringAttribute(SparseGroup.versionAttribute, TensorEncoding.encodingVersion)
            try group.writeIntegerList(SparseGroup.shapeAttribute, shape.map { Int64($0) })
            if case .nOfM(let n, let m) = encoding {
                try group.writeAttribute(SparseGroup.nAttribute, .int(Int64(n)))
                try group.writeAttribute(SparseGroup.mAttribute, .int(Int64(m)))
            }
            try group.close()
            func path(_ child: String) -> String { groupPath + "/" + child }

            switch encoding {
            case .dense:
                preconditionFailure("handled above")
            case .csr:
                try Self.writeValues(kept, shape: [kept.count], as: storage, at: path("data"), in: file)
                let columns = matrix.columnIndices()
                // Column indices as small as the width allows: 16 bits up to 65536 inputs.
                if cols <= 1 << 16 {
                    try Self.writeIntegers(columns.map { UInt16(truncatingIfNeeded: $0) }, .uint16, shape: [kept.count],
                                           at: path("indices"), in: file)
                } else {
                    try Self.writeIntegers(columns, .int32, shape: [kept.count], at: path("indices"), in: file)
                }
                try Self.writeIntegers(matrix.rowStart, .int64, shape: [rows + 1], at: path("indptr"), in: file)
            case .bitmask:
                try Self.writeIntegers(matrix.packedBitmask(), .uint8, shape: [rows, BitmaskMatrix.packedBytesPerRow(cols: cols)],
                                       at: path("bitmask"), in: file)
                try Self.writeValues(kept, shape: [kept.count], as: storage, at: path("values"), in: file)
            case .nOfM(let n, let m):
                let slots = [rows, BitmaskMatrix.nOfMSlotsPerRow(cols: cols, n: n, m: m)]
                try Self.writeIntegers(nOfM!.positions, .uint8, shape: slots, at: path("indices"), in: file)
                try Self.writeValues(nOfM!.values, shape: slots, as: storage, at: path("values"), in: file)
            }
        }
        written.insert(key)
    }

    /// A value dataset in `storage` (bfloat16 marked as for dense tensors), chunked and checksummed.
    private static func writeValues(_ values: [Float], shape: [Int], as storage: StorageDType, at path: String,
                                    in file: H5Handle) throws {
        let dataset = try file.createDataset(path, of: storage.scalar, shape: shape)
        if storage == .bfloat16 {
            try dataset.writeFixedStringAttribute(StorageDType.bfloat16Attribute.name, StorageDType.bfloat16Attribute.value)
        }
        if storage == .float32 {
            try values.withUnsafeBytes { try dataset.write($0, as: .float32) }
        } else {
            try HalfPrecision.narrow(values, bfloat: storage == .bfloat16).withUnsafeBytes { try dataset.write($0, as: storage.scalar) }
        }
        try dataset.close()
    }

    /// An integer dataset of `scalar` (whose layout `T` has), chunked and checksummed.
    private static func writeIntegers<T: FixedWidthInteger>(_ values: [T], _ scalar: H5Scalar, shape: [Int], at path: String,
                                                            in file: H5Handle) throws {
        precondition(MemoryLayout<T>.size == scalar.byteCount, "writeIntegers: \(T.self) is not \(scalar)")
        let dataset = try file.createDataset(path, of: scalar, shape: shape)
        try values.withUnsafeBytes { try dataset.write($0, as: scalar) }
        try dataset.close()
    }
}
