import CHDF5

/// What a dataset holds, as far as Pare cares.
enum StoredElement: Equatable {
    case scalar(H5Scalar)
    case string
    /// Anything else, described for an error message.
    case other(String)

    var description: String {
        switch self {
        case .scalar(let s): return s.rawValue
        case .string: return "string"
        case .other(let text): return text
        }
    }
}

/// Storage of a variable-length string dataset: each element is a heap reference (length,
/// collection address, object index) and the text lives in global heap collections.
struct VariableStringLayout {
    let count: Int
    let contiguous: Bool
    /// File address of the references when stored contiguously and allocated.
    let address: UInt64?
    let storageSize: UInt64
}

extension H5Handle {
    /// The extent of this dataset. Throws for dimensions that do not fit an `Int`.
    func shape() throws -> [Int] {
        try HDF5.scoped(H5Dget_space(id), .dataspace, "cannot read a dataset shape") { space in
            let rank = try HDF5.check(H5Sget_simple_extent_ndims(space), "cannot read a dataset rank")
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            try HDF5.check(H5Sget_simple_extent_dims(space, &dims, nil), "cannot read dataset dimensions")
            return try dims.map { dim in
                guard dim <= hsize_t(Int.max) else {
                    throw H5ContentProblem("dataset dimension \(dim) is too large")
                }
                return Int(dim)
            }
        }
    }

    func storedElement() throws -> StoredElement {
        try HDF5.scoped(H5Dget_type(id), .datatype, "cannot read a dataset type") { type in
            if let scalar = H5Scalar.matching(type) { return .scalar(scalar) }
            return H5Tget_class(type) == H5T_STRING ? .string : .other(H5Scalar.describe(type))
        }
    }

    /// True when the data is stored under the Fletcher-32 checksum filter.
    func isChecksummed() throws -> Bool {
        try HDF5.scoped(H5Dget_create_plist(id), .propertyList, "cannot read a dataset's filters") { dcpl in
            var flags: UInt32 = 0
            var count = 0
            return H5Pget_filter_by_id2(dcpl, H5Z_FILTER_FLETCHER32, &flags, &count, nil, 0, nil, nil) >= 0
        }
    }

    /// Bytes the file really holds for this dataset, and whether its filters can only add bytes
    /// (none, or Fletcher-32 alone): then fewer stored bytes than the shape needs means data
    /// that was declared and never written.
    func storage() throws -> (bytes: UInt64, uncompressed: Bool) {
        try HDF5.locked {
            let bytes = UInt64(H5Dget_storage_size(id))
            let uncompressed = try HDF5.scoped(H5Dget_create_plist(id), .propertyList, "cannot read a dataset's filters") { dcpl in
                (0..<max(0, H5Pget_nfilters(dcpl))).allSatisfy { i in
                    var flags: UInt32 = 0, count = 0, config: UInt32 = 0
                    return H5Pget_filter2(dcpl, UInt32(i), &flags, &count, nil, 0, nil, &config) == H5Z_FILTER_FLETCHER32
                }
            }
            return (bytes, uncompressed)
        }
    }

    /// For a chunked dataset, the chunks written and the chunks its extent needs; nil for other
    /// layouts. A compressed dataset's stored bytes say nothing about its declared size, but a
    /// chunk never written is data never written, whatever the filters.
    func chunkCoverage() throws -> (written: UInt64, needed: UInt64)? {
        try HDF5.locked {
            let shape = try shape()
            return try HDF5.scoped(H5Dget_create_plist(id), .propertyList, "cannot read a dataset's layout") { dcpl in
                guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return nil }
                var chunk = [hsize_t](repeating: 0, count: shape.count)
                let rank = try HDF5.check(H5Pget_chunk(dcpl, Int32(shape.count), &chunk), "cannot read a dataset's chunk shape")
                guard Int(rank) == shape.count, chunk.allSatisfy({ $0 > 0 }) else {
                    throw H5ContentProblem("chunk shape \(chunk) does not match the dataset's rank \(shape.count)")
                }
                var needed: UInt64 = 1
                for (dim, size) in zip(shape, chunk) {
                    let (product, overflow) = needed.multipliedReportingOverflow(by: (UInt64(dim) + size - 1) / size)
                    needed = overflow ? .max : product
                }
                var written: hsize_t = 0
                try HDF5.scoped(H5Dget_space(id), .dataspace, "cannot read a dataset shape") { space in
                    try HDF5.check(H5Dget_num_chunks(id, space, &written), "cannot count a dataset's chunks")
                }
                return (UInt64(written), needed)
            }
        }
    }

    /// True when the dataset holds integers (any width, signed or not, either byte order).
    func holdsIntegers() throws -> Bool {
        try HDF5.scoped(H5Dget_type(id), .datatype, "cannot read a dataset type") { H5Tget_class($0) == H5T_INTEGER }
    }

    /// Bytes per stored element.
    func elementByteCount() throws -> Int {
        try HDF5.scoped(H5Dget_type(id), .datatype, "cannot read a dataset type") { Int(H5Tget_size($0)) }
    }

    /// All elements of an integer dataset as Int64 (HDF5 converts any integer type; values
    /// beyond Int64 saturate, which every caller's range checks then reject).
    func readIntegers() throws -> [Int64] {
        try HDF5.locked {
            guard try holdsIntegers() else { throw H5ContentProblem("dataset holds \(try storedElement().description), expected integers") }
            return try readRaw(count: try elementCount(), as: Int64.self, memoryType: .int64)
        }
    }

    /// All elements, converted by HDF5 to `scalar` in host order and viewed as `T` (which must
    /// have that layout: UInt8 for .uint8, UInt16 for .uint16, ...).
    func readElements<T>(as scalar: H5Scalar, _ type: T.Type) throws -> [T] {
        precondition(MemoryLayout<T>.size == scalar.byteCount, "readElements: \(T.self) is not \(scalar)")
        return try HDF5.locked { try readRaw(count: try elementCount(), as: T.self, memoryType: scalar) }
    }

    /// Number of elements, from the shape; throws when the product overflows.
    func elementCount() throws -> Int {
        try shape().reduce(1) { total, dim in
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw H5ContentProblem("dataset is implausibly large") }
            return product
        }
    }

    /// All values of a float32, float16 or bfloat16 (uint16 bits) dataset as Float, in row-major
    /// order. Half floats are read raw and widened here: exact, and much faster than HDF5's soft
    /// float conversion. The caller has checked that a uint16 dataset is marked bfloat16.
    func readFloats() throws -> [Float] {
        try HDF5.locked {
            let count = try elementCount()
            let stored = try storedElement()
            switch stored {
            case .scalar(.float32):
                return try readRaw(count: count, as: Float.self, memoryType: .float32)
            case .scalar(.float16), .scalar(.uint16):
                let halves = try readRaw(count: count, as: UInt16.self, memoryType: stored == .scalar(.uint16) ? .uint16 : .float16)
                return HalfPrecision.widen(halves, bfloat: stored == .scalar(.uint16))
            default:
                throw H5ContentProblem("dataset holds \(stored.description), expected float32, float16 or bfloat16")
            }
        }
    }

    /// The rows in `ranges` (ascending, disjoint) of a 2-D float dataset [n, cols], as Float
    /// [total rows, cols], read in one selection so each stored chunk is read and checksummed once.
    func readRows(_ ranges: [Range<Int>], cols: Int) throws -> [Float] {
        try HDF5.locked {
            let stored = try storedElement()
            let half: Bool
            switch stored {
            case .scalar(.float32): half = false
            case .scalar(.float16), .scalar(.uint16): half = true
            default: throw H5ContentProblem("dataset holds \(stored.description), expected float32, float16 or bfloat16")
            }
            let memory: H5Scalar = stored == .scalar(.uint16) ? .uint16 : (half ? .float16 : .float32)
            let total = ranges.reduce(0) { $0 + $1.count } * cols
            guard total > 0 else { return [] }
            return try HDF5.scoped(H5Dget_space(id), .dataspace, "cannot read a dataset shape") { fileSpace in
                try HDF5.check(H5Sselect_none(fileSpace), "clearing a selection")
                for r in ranges where !r.isEmpty {
                    try HDF5.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_OR, [hsize_t(r.lowerBound), 0], nil,
                                                       [hsize_t(r.count), hsize_t(cols)], nil),
                                   "selecting rows \(r)")
                }
                return try HDF5.scoped(H5Screate_simple(1, [hsize_t(total)], nil), .dataspace, "creating a dataspace") { memSpace in
                    try HDF5.scoped(memory.makeType(forMemory: true), .datatype, "creating a memory type") { memoryType in
                        func read<T>(_ type: T.Type) throws -> [T] {
                            var failure: Error?
                            let values = [T](unsafeUninitializedCapacity: total) { buffer, initialized in
                                initialized = total
                                do {
                                    try HDF5.check(H5Dread(id, memoryType, memSpace, fileSpace, pare_H5P_DEFAULT(), buffer.baseAddress!),
                                                   "cannot read dataset rows")
                                } catch { failure = error }
                            }
                            if let failure { throw failure }
                            return values
                        }
                        if !half { return try read(Float.self) }
                        return HalfPrecision.widen(try read(UInt16.self), bfloat: stored == .scalar(.uint16))
                    }
                }
            }
        }
    }

    private func readRaw<T>(count: Int, as: T.Type, memoryType scalar: H5Scalar) throws -> [T] {
        try HDF5.scoped(scalar.makeType(forMemory: true), .datatype, "creating a memory type") { memoryType in
            var failure: Error?
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                initialized = count
                guard let base = buffer.baseAddress, count > 0 else { return }
                do {
                    try HDF5.check(H5Dread(id, memoryType, pare_H5S_ALL(), pare_H5S_ALL(), pare_H5P_DEFAULT(), base),
                                   "cannot read dataset values")
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            return values
        }
    }

    /// All elements of a one-dimensional string dataset.
    func readStrings() throws -> [String] {
        try HDF5.scoped(H5Dget_type(id), .datatype, "cannot read a dataset type") { type in
            try HDF5.scoped(H5Dget_space(id), .dataspace, "cannot read a dataset shape") { space in
                guard H5Tget_class(type) == H5T_STRING else {
                    throw H5ContentProblem("holds \(H5Scalar.describe(type)), expected strings")
                }
                let count = Int(H5Sget_simple_extent_npoints(space))
                return try H5Strings.read(fileType: type, space: space, count: count) {
                    H5Dread(id, $0, pare_H5S_ALL(), pare_H5S_ALL(), pare_H5P_DEFAULT(), $1)
                }
            }
        }
    }

    /// Where the heap references of a variable-length string dataset are stored, or nil when
    /// the dataset does not hold variable-length strings.
    func variableStringLayout() throws -> VariableStringLayout? {
        try HDF5.scoped(H5Dget_type(id), .datatype, "cannot read a dataset type") { type in
            guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) > 0 else { return nil }
            let layout = try HDF5.scoped(H5Dget_create_plist(id), .propertyList, "cannot read a dataset layout") {
                H5Pget_layout($0)
            }
            let address = H5Dget_offset(id)
            return VariableStringLayout(count: try elementCount(), contiguous: layout == H5D_CONTIGUOUS,
                                        address: address == haddr_t.max ? nil : UInt64(address),
                                        storageSize: UInt64(H5Dget_storage_size(id)))
        }
    }

    /// Writes rows `start ..< start + rows` of a 2-D dataset [n, cols] from `bytes` (host order).
    func writeRows(_ bytes: UnsafeRawBufferPointer, start: Int, rows: Int, cols: Int, as scalar: H5Scalar) throws {
        try HDF5.locked {
            guard let base = bytes.baseAddress, rows > 0, cols > 0 else { return }
            try HDF5.scoped(H5Dget_space(id), .dataspace, "cannot read a dataset shape") { fileSpace in
                try HDF5.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, [hsize_t(start), 0], nil,
                                                   [hsize_t(rows), hsize_t(cols)], nil), "selecting rows")
                try HDF5.scoped(H5Screate_simple(1, [hsize_t(rows * cols)], nil), .dataspace, "creating a dataspace") { memSpace in
                    try HDF5.scoped(scalar.makeType(forMemory: true), .datatype, "creating a memory type") { memoryType in
                        try HDF5.check(H5Dwrite(id, memoryType, memSpace, fileSpace, pare_H5P_DEFAULT(), base),
                                       "cannot write dataset rows")
                    }
                }
            }
        }
    }

    /// Writes the whole dataset from `bytes`, laid out as `scalar` in host order.
    func write(_ bytes: UnsafeRawBufferPointer, as scalar: H5Scalar) throws {
        try HDF5.scoped(scalar.makeType(forMemory: true), .datatype, "creating a memory type") { memoryType in
            guard let base = bytes.baseAddress else { return }
            try HDF5.check(H5Dwrite(id, memoryType, pare_H5S_ALL(), pare_H5S_ALL(), pare_H5P_DEFAULT(), base),
                           "cannot write dataset values")
        }
    }

    /// Creates a numeric dataset at `path` (missing groups above it are created).
    ///
    /// With `checksummed`, the data is stored in chunks of at most `chunkBytes` under HDF5's
    /// Fletcher-32 filter, so a flipped bit in the raw data fails the read instead of silently
    /// changing a weight. h5py reads such files transparently. Chunks of a few MiB read about
    /// twice as fast as 64 MiB ones (measured): HDF5 allocates two buffers per chunk read, and
    /// buffers above glibc's mmap threshold are fresh, page-faulting memory every time.
    func createDataset(_ path: String, of scalar: H5Scalar, shape: [Int], checksummed: Bool = true,
                       chunkBytes: Int = 4 << 20) throws -> H5Handle {
        let dims = shape.map { hsize_t($0) }
        return try HDF5.scoped(H5Screate_simple(Int32(dims.count), dims, nil), .dataspace, "creating a dataspace") { space in
            try HDF5.scoped(scalar.makeType(), .datatype, "creating a type") { fileType in
                try HDF5.scoped(H5Pcreate(pare_H5P_DATASET_CREATE()), .propertyList, "creating a dataset list") { dcpl in
                    let chunk = Self.chunkShape(shape, elementBytes: scalar.byteCount, limit: chunkBytes)
                    if checksummed, let chunk {
                        try HDF5.check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk.map { hsize_t($0) }), "setting chunks")
                        try HDF5.check(H5Pset_fletcher32(dcpl), "enabling the Fletcher-32 checksum")
                    }
                    return try createLinked(path, type: fileType, space: space, dcpl: dcpl)
                }
            }
        }
    }

    /// Creates a one-dimensional dataset of variable-length UTF-8 strings at `path`.
    func createStringDataset(_ path: String, _ strings: [String]) throws {
        try HDF5.scoped(H5Screate_simple(1, [hsize_t(strings.count)], nil), .dataspace, "creating a dataspace") { space in
            try HDF5.scoped(H5Strings.makeVariableUTF8(), .datatype, "creating a string type") { type in
                let dataset = try createLinked(path, type: type, space: space, dcpl: pare_H5P_DEFAULT())
                try H5Strings.withCStrings(strings) { buffer in
                    try HDF5.check(H5Dwrite(dataset.id, type, pare_H5S_ALL(), pare_H5S_ALL(), pare_H5P_DEFAULT(), buffer),
                                   "cannot write strings to \(path)")
                }
                try dataset.close()
            }
        }
    }

    private func createLinked(_ path: String, type: hid_t, space: hid_t, dcpl: hid_t) throws -> H5Handle {
        try HDF5.scoped(Self.intermediateGroupsList(), .propertyList, "creating a link list") { lcpl in
            try H5Handle(H5Dcreate2(id, path, type, space, lcpl, dcpl, pare_H5P_DEFAULT()), .dataset,
                         "cannot create dataset \(path)")
        }
    }

    /// Chunk extents of at most `limit` bytes: whole trailing dimensions, and the axis that must
    /// be split cut into equal chunks of as many rows as fit. Nil when the tensor is empty (HDF5
    /// chunks must not be empty).
    ///
    /// Equal rather than greedy cuts because HDF5 stores the last, partial chunk of a filtered
    /// dataset at full size: 2816 rows of 1024 float32 cut greedily into 1024-row chunks would
    /// take 3072 rows on disk; three chunks of 939 rows take 2817.
    static func chunkShape(_ shape: [Int], elementBytes: Int, limit: Int) -> [Int]? {
        guard !shape.isEmpty, !shape.contains(0) else { return nil }
        var chunk = shape
        var inner = elementBytes
        for axis in shape.indices.reversed() {
            let rows = max(1, limit / inner)
            if rows < shape[axis] {
                let chunks = (shape[axis] + rows - 1) / rows
                chunk[axis] = (shape[axis] + chunks - 1) / chunks
                for outer in 0..<axis { chunk[outer] = 1 }
                return chunk
            }
            inner *= shape[axis]
        }
        return chunk
    }
}
