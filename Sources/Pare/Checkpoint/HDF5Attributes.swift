import CHDF5

/// The value of a scalar HDF5 attribute, as far as Pare cares: any integer type reads as `.int`,
/// any float type as `.float`, any string (variable or fixed length) as `.string`.
enum AttributeValue: Equatable, CustomStringConvertible {
    case int(Int64)
    case float(Double)
    case string(String)

    var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .float(let v): return "\(v)"
        case .string(let s): return "\"\(s)\""
        }
    }

    /// What is stored: int64, float64, or a fixed-length UTF-8 string.
    ///
    /// Strings are fixed-length on purpose: their bytes then live inside the attribute's object
    /// header, which is checksummed, instead of in the unchecksummed global heap where
    /// variable-length strings go (see `HDF5GlobalHeapCheck`). h5py reads them as bytes.
    fileprivate func makeType(forMemory: Bool) -> hid_t {
        switch self {
        case .int: return H5Scalar.int64.makeType(forMemory: forMemory)
        case .float: return H5Scalar.float64.makeType(forMemory: forMemory)
        // Variable-length UTF-8, as h5py writes strings: Python tools then read `str`, not bytes,
        // so `f.attrs["format"] == "pare-dlm"` holds. The heap data behind them is verified on read.
        case .string: return H5Strings.makeVariableUTF8()
        }
    }

    /// Calls `body` with the value laid out as HDF5 expects it in memory.
    fileprivate func withBuffer<T>(_ body: (UnsafeRawPointer) throws -> T) throws -> T {
        switch self {
        case .int(var v): return try withUnsafeBytes(of: &v) { try body($0.baseAddress!) }
        case .float(var v): return try withUnsafeBytes(of: &v) { try body($0.baseAddress!) }
        case .string(let s):
            // A variable-length string in memory is a pointer to a NUL-terminated buffer.
            return try s.withCString { cString in
                var pointer: UnsafePointer<CChar>? = cString
                return try withUnsafeBytes(of: &pointer) { try body($0.baseAddress!) }
            }
        }
    }
}

extension H5Handle {
    /// The scalar attribute `name` of this object, or nil when it has no such attribute.
    /// Throws when the attribute exists but is not a single integer, float or string.
    func readAttribute(_ name: String) throws -> AttributeValue? {
        try HDF5.locked {
            guard try HDF5.check(H5Aexists(id, name), "looking up attribute \(name)") > 0 else { return nil }
            return try HDF5.scoped(H5Aopen(id, name, pare_H5P_DEFAULT()), .attribute, "cannot open attribute \(name)") { attribute in
                try HDF5.scoped(H5Aget_type(attribute), .datatype, "cannot read the type of \(name)") { type in
                    try HDF5.scoped(H5Aget_space(attribute), .dataspace, "cannot read the shape of \(name)") { space in
                        let count = H5Sget_simple_extent_npoints(space)
                        guard count == 1 else {
                            throw H5ContentProblem("holds \(count) values, expected a single value")
                        }
                        switch H5Tget_class(type) {
                        case H5T_INTEGER:
                            var value: Int64 = 0
                            try HDF5.check(H5Aread(attribute, pare_H5T_NATIVE_INT64(), &value), "cannot read \(name)")
                            return .int(value)
                        case H5T_FLOAT:
                            var value = 0.0
                            try HDF5.check(H5Aread(attribute, pare_H5T_NATIVE_DOUBLE(), &value), "cannot read \(name)")
                            return .float(value)
                        case H5T_STRING:
                            if try HDF5.check(H5Tis_variable_str(type), "inspecting the type of \(name)") > 0 {
                                try verifyHeapReference(of: attribute)
                            }
                            let strings = try H5Strings.read(fileType: type, space: space, count: 1) {
                                H5Aread(attribute, $0, $1)
                            }
                            return .string(strings.first ?? "")
                        default:
                            throw H5ContentProblem("has type \(H5Scalar.describe(type)), expected a number or string")
                        }
                    }
                }
            }
        }
    }

    /// Checks the global heap object behind a variable-length string attribute before HDF5
    /// follows the reference (HDF5 can loop forever on a damaged heap; see `HDF5RawReference`).
    /// The file is found by name from this object, its superblock read again for the address
    /// widths, so every reader of string attributes gets the check without passing anything.
    private func verifyHeapReference(of attribute: hid_t) throws {
        let path = try HDF5.locked { () throws -> String in
            let length = try HDF5.check(H5Fget_name(id, nil, 0), "finding the file of an attribute")
            var name = [CChar](repeating: 0, count: Int(length) + 1)
            try HDF5.check(H5Fget_name(id, &name, name.count), "finding the file of an attribute")
            return String(cString: name)
        }
        let superblock: HDF5Preflight.Report
        do { superblock = try HDF5Preflight.check(path: path) } catch let failure as HDF5Preflight.OpenFailure {
            throw H5ContentProblem("cannot be checked: reopening \(path): \(failure.reason)")
        }
        let reference = try HDF5RawReference.read(attribute: attribute, offsetSize: superblock.offsetSize)
        do {
            try HDF5GlobalHeapCheck(path: path, superblock: superblock).checkReference(reference)
        } catch let damage as HDF5GlobalHeapCheck.Damage {
            throw H5ContentProblem("has a damaged string: \(damage.reason)")
        }
    }

    /// The integer attribute `name` as a list (a scalar or a one-dimensional array of at most
    /// `limit` integers, any integer type), nil when absent. Throws for any other kind.
    func readIntegerList(_ name: String, limit: Int = 16) throws -> [Int64]? {
        try HDF5.locked {
            guard try HDF5.check(H5Aexists(id, name), "looking up attribute \(name)") > 0 else { return nil }
            return try HDF5.scoped(H5Aopen(id, name, pare_H5P_DEFAULT()), .attribute, "cannot open attribute \(name)") { attribute in
                try HDF5.scoped(H5Aget_type(attribute), .datatype, "cannot read the type of \(name)") { type in
                    try HDF5.scoped(H5Aget_space(attribute), .dataspace, "cannot read the shape of \(name)") { space in
                        guard H5Tget_class(type) == H5T_INTEGER else {
                            throw H5ContentProblem("has type \(H5Scalar.describe(type)), expected integers")
                        }
                        let rank = H5Sget_simple_extent_ndims(space)
                        let count = H5Sget_simple_extent_npoints(space)
                        guard rank <= 1, count >= 0, count <= limit else {
                            throw H5ContentProblem("holds \(count) values in \(rank) dimensions, expected a list of at most \(limit) integers")
                        }
                        var values = [Int64](repeating: 0, count: Int(count))
                        if count > 0 {
                            try HDF5.check(H5Aread(attribute, pare_H5T_NATIVE_INT64(), &values), "cannot read \(name)")
                        }
                        return values
                    }
                }
            }
        }
    }

    /// Writes (or replaces) `name` as a one-dimensional int64 array (what h5py writes for a
    /// tuple of ints, such as a sparse tensor's `shape`).
    func writeIntegerList(_ name: String, _ values: [Int64]) throws {
        try HDF5.locked {
            try deleteAttribute(name)
            try HDF5.scoped(H5Screate_simple(1, [hsize_t(values.count)], nil), .dataspace, "creating a dataspace") { space in
                try HDF5.scoped(H5Scalar.int64.makeType(), .datatype, "creating a type") { fileType in
                    try HDF5.scoped(H5Acreate2(id, name, fileType, space, pare_H5P_DEFAULT(), pare_H5P_DEFAULT()),
                                    .attribute, "cannot create attribute \(name)") { attribute in
                        try HDF5.check(H5Awrite(attribute, pare_H5T_NATIVE_INT64(), values), "cannot write attribute \(name)")
                    }
                }
            }
        }
    }

    /// Removes the attribute `name` if present (tests use it to damage files).
    func deleteAttribute(_ name: String) throws {
        try HDF5.locked {
            if try HDF5.check(H5Aexists(id, name), "looking up attribute \(name)") > 0 {
                try HDF5.check(H5Adelete(id, name), "cannot delete attribute \(name)")
            }
        }
    }

    /// Writes (or replaces) the scalar attribute `name`.
    func writeAttribute(_ name: String, _ value: AttributeValue) throws {
        try HDF5.locked {
            try deleteAttribute(name)
            try HDF5.scoped(H5Screate(H5S_SCALAR), .dataspace, "creating a dataspace") { space in
                try HDF5.scoped(value.makeType(forMemory: false), .datatype, "creating a type") { fileType in
                    try HDF5.scoped(value.makeType(forMemory: true), .datatype, "creating a type") { memoryType in
                        try HDF5.scoped(H5Acreate2(id, name, fileType, space, pare_H5P_DEFAULT(), pare_H5P_DEFAULT()),
                                        .attribute, "cannot create attribute \(name)") { attribute in
                            try value.withBuffer { buffer in
                                try HDF5.check(H5Awrite(attribute, memoryType, buffer), "cannot write attribute \(name)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes the scalar attribute `name` as a fixed-length ASCII string. Its bytes live in the
    /// checksummed object header, not in the global heap (h5py reads it as `bytes`).
    func writeFixedStringAttribute(_ name: String, _ value: String) throws {
        try HDF5.locked {
            let bytes = Array(value.utf8)
            try HDF5.scoped(H5Screate(H5S_SCALAR), .dataspace, "creating a dataspace") { space in
                try HDF5.scoped(H5Tcopy(pare_H5T_C_S1()), .datatype, "creating a string type") { type in
                    try HDF5.check(H5Tset_size(type, max(1, bytes.count)), "sizing a string type")
                    try HDF5.check(H5Tset_strpad(type, H5T_STR_NULLPAD), "padding a string type")
                    try HDF5.scoped(H5Acreate2(id, name, type, space, pare_H5P_DEFAULT(), pare_H5P_DEFAULT()),
                                    .attribute, "cannot create attribute \(name)") { attribute in
                        try HDF5.check(H5Awrite(attribute, type, bytes), "cannot write attribute \(name)")
                    }
                }
            }
        }
    }
}
