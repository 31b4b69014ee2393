/// Reading sparse-encoded block linears (docs/format.md, "Sparse tensors").
///
/// The header has already checked every dataset's extent and type. Here the structure (row
/// pointers and column indices, mask bytes, N:M positions) is read and checked completely before
/// the values are read; then the values are checked finite and combined with it into the
/// in-memory bitmask format. No dense copy of the weight is made on the way.
extension CheckpointReader {
    /// A weight as a `Linear`: `.sparse` straight from a sparse encoding, `.dense` for a
    /// dense dataset. Block loading goes through here, so a sparse file loads sparse.
    public func linear(named name: String) throws -> Linear {
        guard let info = infoByName[name] else { throw CheckpointError.missingTensor(file: path, tensor: name) }
        guard info.shape.count == 2 else {
            throw CheckpointError.corrupt(file: path, object: "tensor \(name)", reason: "shape \(info.shape) is not a matrix [out, in]")
        }
        if info.encoding.isSparse { return Linear(sparse: try sparseMatrix(info)) }
        return Linear(try tensor(named: name))
    }

    /// The sparse weight `info` describes, checked and converted to the bitmask format.
    func sparseMatrix(_ info: TensorInfo) throws -> BitmaskMatrix {
        let groupPath = Checkpoint.datasetPath(for: info.name)
        let rows = info.shape[0], cols = info.shape[1]

        /// Runs `body` on dataset `child` of the group; HDF5 failures name the dataset.
        func withDataset<T>(_ child: String, _ body: (H5Handle) throws -> T) throws -> T {
            do {
                return try body(try file.openDataset(groupPath + "/" + child))
            } catch let problem as HDF5Problem {
                throw CheckpointError.corrupt(file: path, object: "tensor \(info.name) dataset \(child)", reason: problem.summary)
            }
        }
        /// The stored values, widened to fp32 and checked finite; `position(i)` locates value i.
        func values(_ child: String, position: (Int) -> [Int]) throws -> [Float] {
            let values = try withDataset(child) { try $0.readFloats() }
            guard values.count == info.storedValues else {
                throw CheckpointError.corrupt(file: path, object: "tensor \(info.name) dataset \(child)",
                                              reason: "read \(values.count) values, expected \(info.storedValues)")
            }
            try checkFinite(values, tensor: info.name, position: position)
            return values
        }
        func fromCSR<Index: FixedWidthInteger>(_ indptr: [Int64], _ indices: [Index]) throws -> BitmaskMatrix {
            try BitmaskMatrix.checkCSR(rows: rows, cols: cols, indptr: indptr, indices: indices)
            let data = try values("data") { BitmaskMatrix.csrPosition(ofStored: $0, indptr: indptr, indices: indices) }
            return try BitmaskMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: data)
        }

        do {
            switch info.encoding {
            case .dense:
                preconditionFailure("sparseMatrix: \(info.name) is dense")
            case .csr:
                let indptr = try withDataset("indptr") { try $0.readIntegers() }
                // Pare writes 16-bit column indices; they are read as they are, anything else as Int64.
                if try withDataset("indices", { try $0.storedElement() }) == .scalar(.uint16) {
                    return try fromCSR(indptr, try withDataset("indices") { try $0.readElements(as: .uint16, UInt16.self) })
                }
                return try fromCSR(indptr, try withDataset("indices") { try $0.readIntegers() })
            case .bitmask:
                let bytes = try withDataset("bitmask") { try $0.readElements(as: .uint8, UInt8.self) }
                let kept = try BitmaskMatrix.checkPackedBitmask(rows: rows, cols: cols, bytes: bytes)
                guard kept == info.storedValues else {
                    throw SparseFormatError.inconsistent("bitmask keeps \(kept) weights but values holds \(info.storedValues)")
                }
                let keptValues = try values("values") {
                    BitmaskMatrix.packedBitmaskPosition(ofStored: $0, rows: rows, cols: cols, bytes: bytes)
                }
                return try BitmaskMatrix(rows: rows, cols: cols, packedBitmask: bytes, values: keptValues)
            case .nOfM(let n, let m):
                let positions = try withDataset("indices") { try $0.readElements(as: .uint8, UInt8.self) }
                try BitmaskMatrix.checkNOfM(rows: rows, cols: cols, n: n, m: m, positions: positions)
                let slotValues = try values("values") {
                    BitmaskMatrix.nOfMPosition(ofStored: $0, cols: cols, n: n, m: m, positions: positions)
                }
                return try BitmaskMatrix(rows: rows, cols: cols, n: n, m: m, positions: positions, values: slotValues)
            }
        } catch SparseFormatError.inconsistent(let why) {
            throw CheckpointError.badSparseTensor(file: path, tensor: info.name, reason: why)
        }
    }
}
