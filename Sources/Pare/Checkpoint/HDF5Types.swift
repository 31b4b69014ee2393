import CHDF5
import Foundation

/// Numeric element types Pare writes, or meets in files and names in errors.
///
/// Files hold them little-endian (docs/format.md); memory holds them in host order, and HDF5 swaps
/// bytes on the way if the two differ.
enum H5Scalar: String, CaseIterable {
    case float32, float16, float64, int32, int64
    /// Raw 16-bit words: how bfloat16 weights are stored (with a `dtype = "bfloat16"` attribute),
    /// and CSR column indices of sparse tensors up to 65536 columns.
    case uint16
    /// Bytes: packed bitmasks and N:M positions of sparse tensors.
    case uint8

    var byteCount: Int {
        switch self {
        case .uint8: return 1
        case .float16, .uint16: return 2
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        }
    }

    /// A fresh copy of the type (the caller closes it): little-endian for files, host order for memory.
    func makeType(forMemory: Bool = false, bigEndian: Bool = false) -> hid_t {
        HDF5.locked {
            let type: hid_t
            switch self {
            case .float32: type = H5Tcopy(pare_H5T_IEEE_F32LE())
            case .float16: type = Self.makeHalf()
            case .float64: type = H5Tcopy(pare_H5T_IEEE_F64LE())
            case .int32: type = H5Tcopy(pare_H5T_STD_I32LE())
            case .int64: type = H5Tcopy(pare_H5T_STD_I64LE())
            case .uint16: type = H5Tcopy(pare_H5T_STD_U16LE())
            // One byte has no byte order; the native type is the standard unsigned 8-bit one.
            case .uint8: type = H5Tcopy(pare_H5T_NATIVE_UINT8())
            }
            let big = forMemory ? (1.bigEndian == 1) : bigEndian
            if type >= 0 && big && byteCount > 1 && H5Tset_order(type, H5T_ORDER_BE) < 0 {
                _ = H5Tclose(type)
                return -1
            }
            return type
        }
    }

    /// IEEE binary16. HDF5 1.10 has no predefined half type; this is h5py's construction, so files
    /// written here read as numpy float16 and h5py-written float16 files compare equal to it.
    private static func makeHalf() -> hid_t {
        let type = H5Tcopy(pare_H5T_IEEE_F32LE())
        guard type >= 0 else { return type }
        if H5Tset_fields(type, 15, 10, 5, 0, 10) < 0 || H5Tset_size(type, 2) < 0 || H5Tset_ebias(type, 15) < 0 {
            _ = H5Tclose(type)
            return -1
        }
        return type
    }

    /// The scalar a stored type is exactly equal to (either byte order), or nil.
    static func matching(_ type: hid_t) -> H5Scalar? {
        HDF5.locked {
            allCases.first { scalar in
                [false, true].contains { big in
                    (try? HDF5.scoped(scalar.makeType(bigEndian: big), .datatype, "") { H5Tequal($0, type) > 0 }) ?? false
                }
            }
        }
    }

    /// A short human name for any stored type, for error messages ("float64", "int8", "string").
    static func describe(_ type: hid_t) -> String {
        HDF5.locked {
            if let scalar = matching(type) { return scalar.rawValue }
            let bits = H5Tget_size(type) * 8
            switch H5Tget_class(type) {
            case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(bits)"
            case H5T_FLOAT: return "\(bits)-bit float in a non-IEEE layout"
            case H5T_STRING: return "string"
            case H5T_COMPOUND: return "compound"
            case H5T_ENUM: return "enum"
            case H5T_ARRAY: return "array"
            case H5T_VLEN: return "variable-length sequence"
            default: return "unsupported HDF5 type"
            }
        }
    }
}

/// Variable-length UTF-8 strings, the encoding docs/format.md prescribes (what h5py writes for `str`).
enum H5Strings {
    static func makeVariableUTF8() -> hid_t {
        HDF5.locked {
            let type = H5Tcopy(pare_H5T_C_S1())
            guard type >= 0 else { return type }
            if H5Tset_size(type, pare_H5T_VARIABLE()) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0 {
                _ = H5Tclose(type)
                return -1
            }
            return type
        }
    }

    /// Reads `count` string elements stored with `fileType` (variable-length or fixed-length,
    /// ASCII or UTF-8) through `read(memoryType, buffer)`, an H5Aread or H5Dread call.
    static func read(fileType: hid_t, space: hid_t, count: Int,
                     _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        try HDF5.locked {
            guard count >= 0 else { throw H5ContentProblem("reading strings: bad element count") }
            let variable = try HDF5.check(H5Tis_variable_str(fileType), "inspecting a string type") > 0
            return variable ? try readVariable(fileType: fileType, space: space, count: count, read)
                            : try readFixed(fileType: fileType, count: count, read)
        }
    }

    private static func readVariable(fileType: hid_t, space: hid_t, count: Int,
                                     _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        // The memory type must carry the file's character set: HDF5 refuses to convert between
        // ASCII and UTF-8 strings.
        try HDF5.scoped(makeVariableUTF8(), .datatype, "creating a string type") { memoryType in
            try HDF5.check(H5Tset_cset(memoryType, H5Tget_cset(fileType)), "setting a character set")
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try pointers.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress, count > 0 else { return }
                try HDF5.check(read(memoryType, base), "reading variable-length strings")
            }
            defer {
                pointers.withUnsafeMutableBytes { buffer in
                    if let base = buffer.baseAddress, count > 0 { _ = pare_vlen_reclaim(memoryType, space, base) }
                }
            }
            return try pointers.enumerated().map { index, pointer in
                guard let pointer else { return "" }
                return try decode(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), index: index)
            }
        }
    }

    private static func readFixed(fileType: hid_t, count: Int,
                                  _ read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        try HDF5.scoped(H5Tcopy(fileType), .datatype, "copying a string type") { memoryType in
            let width = H5Tget_size(memoryType)
            let (total, overflow) = width.multipliedReportingOverflow(by: count)
            guard width > 0, !overflow, total < 1 << 32 else {
                throw H5ContentProblem("reading fixed-length strings: implausible size")
            }
            var bytes = [UInt8](repeating: 0, count: total)
            try bytes.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress, total > 0 else { return }
                try HDF5.check(read(memoryType, base), "reading fixed-length strings")
            }
            let spacePadded = H5Tget_strpad(memoryType) == H5T_STR_SPACEPAD
            return try (0..<count).map { index in
                var element = bytes[(index * width)..<((index + 1) * width)]
                if let end = element.firstIndex(of: 0) { element = element[..<end] }
                if spacePadded { while element.last == 0x20 { element = element.dropLast() } }
                return try element.withUnsafeBytes { try decode($0, index: index) }
            }
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, index: Int) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw H5ContentProblem("string \(index) is not valid UTF-8")
        }
        return text
    }

    /// Calls `body` with NUL-terminated copies of `strings`, the buffer layout HDF5 expects for
    /// variable-length strings.
    @discardableResult
    static func withCStrings<T>(_ strings: [String],
                                _ body: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        if let index = strings.firstIndex(where: { $0.utf8.contains(0) }) {
            throw H5ContentProblem("string \(index) contains a NUL character, which HDF5 strings cannot hold")
        }
        var pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        guard !pointers.contains(where: { $0 == nil }) else {
            throw H5ContentProblem("copying strings: out of memory")
        }
        return try pointers.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else {
                throw H5ContentProblem("writing strings: nothing to write")
            }
            return try body(base)
        }
    }
}
