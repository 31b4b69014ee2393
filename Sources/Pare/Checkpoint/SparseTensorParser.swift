import CHDF5

/// Header checks of a sparse-encoded block linear (docs/format.md, "Sparse tensors").
///
/// Everything that can be known without reading a value or an index is checked here, when the
/// file is opened: the encoding and its version, the `shape` attribute against the config, that
/// the group holds exactly its encoding's datasets, each dataset's rank, extent and type, and that
/// the sizes agree with each other and with the bytes the file really stores. So a small file
/// cannot declare huge sparse parts (the sizes are bounded by the config's dense shape, and
/// unwritten data is an error), and the structure checks that need the indices themselves
/// (`CheckpointReader.linear(named:)`) run on arrays of known, plausible size.
extension CheckpointHeaderParser {
    func sparseTensorInfo(_ name: String, expected: [Int]) throws -> TensorInfo {
        let groupPath = Checkpoint.datasetPath(for: name)
        func bad(_ reason: String) -> CheckpointError { .badSparseTensor(file: path, tensor: name, reason: reason) }
        let group = try reading(name) { try file.openGroup(groupPath) }

        let encodingType: String
        switch try attribute(SparseGroup.typeAttribute, of: group, at: groupPath) {
        case .string(let text)?: encodingType = text
        case nil: throw bad("the group has no attribute encoding-type (a tensor group must be csr_matrix, bitmask or n_of_m)")
        case let other?: throw bad("encoding-type is \(other), expected a string")
        }
        let rows = expected[0], cols = expected[1]
        var encoding: TensorEncoding
        switch encodingType {
        case "csr_matrix": encoding = .csr
        case "bitmask": encoding = .bitmask
        case "n_of_m": encoding = .nOfM(n: 0, m: 0)  // n and m are read below
        default: throw bad("unknown encoding-type \"\(encodingType)\" (Pare reads csr_matrix, bitmask and n_of_m)")
        }
        switch try attribute(SparseGroup.versionAttribute, of: group, at: groupPath) {
        case .string(TensorEncoding.encodingVersion)?: break
        case nil: throw bad("attribute encoding-version is missing")
        case let other?:
            throw bad("\(encodingType) encoding-version \(other) is not supported (this Pare reads \"\(TensorEncoding.encodingVersion)\")")
        }
        let shapeList: [Int64]?
        do {
            shapeList = try group.readIntegerList(SparseGroup.shapeAttribute)
        } catch let problem as HDF5Problem {
            throw bad("attribute shape \(problem.summary)")
        }
        guard let shapeList else { throw bad("attribute shape is missing") }
        guard shapeList.count == 2 else { throw bad("attribute shape \(shapeList) has \(shapeList.count) entries, expected 2") }
        let shape = shapeList.map { Int(clamping: $0) }
        guard shape == expected else { throw CheckpointError.wrongShape(file: path, tensor: name, shape: shape, expected: expected) }

        if case .nOfM = encoding {
            func integer(_ attributeName: String) throws -> Int {
                switch try attribute(attributeName, of: group, at: groupPath) {
                case .int(let value)? where value >= 0 && value <= Int64(Int32.max): return Int(value)
                case nil: throw bad("attribute \(attributeName) is missing")
                case let other?: throw bad("attribute \(attributeName) is \(other), expected a small positive integer")
                }
            }
            let n = try integer(SparseGroup.nAttribute), m = try integer(SparseGroup.mAttribute)
            do {
                try BitmaskMatrix.checkNOfM(cols: cols, n: n, m: m)
            } catch SparseFormatError.inconsistent(let why) {
                throw bad(why)
            }
            encoding = .nOfM(n: n, m: m)
        }

        // Exactly the encoding's datasets.
        let expectedDatasets = SparseGroup.datasets(encoding)
        let children = try reading(name) { try group.childNames() }
        if let missing = expectedDatasets.first(where: { !children.contains($0) }) {
            throw bad("\(encodingType) dataset \(missing) is missing")
        }
        if let extra = children.first(where: { !expectedDatasets.contains($0) }) {
            throw bad("unexpected object \(extra) in the group (\(encodingType) holds \(expectedDatasets.joined(separator: ", ")))")
        }
        var parts: [String: (dataset: H5Handle, shape: [Int])] = [:]
        for child in expectedDatasets {
            let childPath = groupPath + "/" + child
            guard try reading(name, { try file.objectKind(childPath) == H5I_DATASET }) else { throw bad("\(child) is not a dataset") }
            parts[child] = try reading("tensor \(name) dataset \(child)") {
                let dataset = try file.openDataset(childPath)
                return (dataset, try dataset.shape())
            }
        }
        func requireShape(_ child: String, _ wanted: [Int]) throws {
            guard let got = parts[child]?.shape, got == wanted else {
                throw bad("\(child) has shape \(parts[child]?.shape ?? []), expected \(wanted)")
            }
        }
        func requireIntegers(_ child: String) throws {
            guard try reading(name, { try parts[child]!.dataset.holdsIntegers() }) else {
                throw bad("\(child) is stored as \(try reading(name) { try parts[child]!.dataset.storedElement().description }), expected integers")
            }
        }
        func requireBytes(_ child: String) throws {
            let stored = try reading(name) { try parts[child]!.dataset.storedElement() }
            guard stored == .scalar(.uint8) else { throw bad("\(child) is stored as \(stored.description), expected uint8") }
        }
        /// The length of a one-dimensional dataset holding at most one entry per weight.
        func storedCount(_ child: String) throws -> Int {
            guard let got = parts[child]?.shape, got.count == 1 else {
                throw bad("\(child) has shape \(parts[child]?.shape ?? []), expected one dimension")
            }
            guard got[0] <= rows * cols else { throw bad("\(child) holds \(got[0]) entries, more than the \(rows * cols) weights") }
            return got[0]
        }

        let valuesName = SparseGroup.valuesDataset(encoding)
        let storedValues: Int
        switch encoding {
        case .dense:
            preconditionFailure("a sparse group is never dense")
        case .csr:
            try requireShape("indptr", [rows + 1])
            try requireIntegers("indptr")
            storedValues = try storedCount("indices")
            try requireIntegers("indices")
            try requireShape("data", [storedValues])
        case .bitmask:
            try requireShape("bitmask", [rows, BitmaskMatrix.packedBytesPerRow(cols: cols)])
            try requireBytes("bitmask")
            storedValues = try storedCount("values")
        case .nOfM(let n, let m):
            let slots = [rows, BitmaskMatrix.nOfMSlotsPerRow(cols: cols, n: n, m: m)]
            try requireShape("indices", slots)
            try requireBytes("indices")
            try requireShape("values", slots)
            storedValues = slots[0] * slots[1]
        }

        // The value dataset's precision, marked as for dense tensors.
        let values = parts[valuesName]!.dataset
        let (stored, marker) = try reading(name) {
            (try values.storedElement(), try? values.readAttribute(StorageDType.bfloat16Attribute.name))
        }
        let dtype: StorageDType
        switch stored {
        case .scalar(.float32): dtype = .float32
        case .scalar(.float16): dtype = .float16
        case .scalar(.uint16) where marker == .string(StorageDType.bfloat16Attribute.value): dtype = .bfloat16
        case .scalar(.uint16): throw bad("\(valuesName) is uint16 without the attribute dtype = \"bfloat16\"")
        default: throw bad("\(valuesName) is stored as \(stored.description), expected float32, float16 or bfloat16")
        }

        // Every dataset must really hold the bytes its extent declares (checked before anything of
        // that size is allocated), and is checksummed when it holds anything. Compression would
        // hide the true size, so only the Fletcher-32 filter is accepted.
        var storedBytes = 0
        var checksummed = true
        for child in expectedDatasets {
            let (dataset, shape) = parts[child]!
            let (storage, elementBytes, filtered) = try reading("tensor \(name) dataset \(child)") {
                (try dataset.storage(), try dataset.elementByteCount(), try dataset.isChecksummed())
            }
            guard storage.uncompressed else {
                throw bad("\(child) is compressed; sparse tensors must be stored without filters other than Fletcher-32")
            }
            let needed = Self.declaredBytes(shape, elementBytes: elementBytes)
            if storage.bytes < needed {
                throw CheckpointError.corrupt(file: path, object: "tensor \(name) dataset \(child)",
                                              reason: "the file stores \(storage.bytes) of its \(needed) bytes (data never written)")
            }
            storedBytes += Int(clamping: storage.bytes)
            if needed > 0 && !filtered { checksummed = false }
        }
        return TensorInfo(name: name, shape: expected, dtype: dtype, checksummed: checksummed, encoding: encoding,
                          storedValues: storedValues, storedBytes: storedBytes)
    }
}
