import Foundation

/// Why a safetensors file, a shard index or a Hugging Face folder could not be read or written:
/// one line naming the file and, where it applies, the tensor or key.
public struct HFError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let reason: String
    public init(file: String, _ reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}

/// The element types Pare reads and writes in safetensors files.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteCount: Int { self == .f32 ? 4 : 2 }

    /// The pare-dlm storage precision of the same values.
    public var storage: StorageDType {
        switch self { case .f32: return .float32; case .f16: return .float16; case .bf16: return .bfloat16 }
    }

    public init(_ storage: StorageDType) {
        switch storage { case .float32: self = .f32; case .float16: self = .f16; case .bfloat16: self = .bf16 }
    }

    /// The other dtypes the safetensors format defines, named in the error a file using one gets.
    static let otherKnown: Set<String> = ["F64", "F8_E4M3", "F8_E5M2", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL"]
}

/// One tensor as a safetensors header declares it. Offsets are relative to the data section.
public struct SafetensorsEntry: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let begin: Int
    public let end: Int

    public var count: Int { shape.reduce(1, *) }
    /// Rows of the tensor seen as a matrix [shape[0], rest] (a 1-D tensor has one value per row,
    /// as `ModelWriter` slabs it; a 0-D tensor is one row).
    public var rows: Int { shape.first ?? 1 }
    public var rowValues: Int { shape.dropFirst().reduce(1, *) }
}

/// A safetensors file opened for reading tensor by tensor (never whole in memory).
///
/// The layout (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
/// N bytes of JSON `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
/// {string: string}}`, then the data section. Opening checks everything the format promises
/// (docs/format.md, "Safetensors"): N within the file and at most `maxHeaderBytes`, a JSON object
/// of well-formed entries of a dtype Pare reads, `shape x dtype size == end - begin`, offsets
/// inside the data section, and the tensors tiling it without overlap, gap or trailing bytes (as
/// the reference implementation demands). Values are read with pread, only the rows asked for.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    /// Byte offset of the data section in the file.
    public let dataStart: Int
    private let fd: Int32

    /// The largest JSON header accepted (the reference library's limit is 100 MB too).
    public static let maxHeaderBytes = 100_000_000

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HFError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        do {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw HFError(file: path, "cannot stat: \(String(cString: strerror(errno)))") }
            guard (info.st_mode & S_IFMT) == S_IFREG else { throw HFError(file: path, "not a regular file") }
            let size = Int(info.st_size)
            guard size >= 8 else { throw HFError(file: path, "\(size) bytes: too short for a safetensors file (8-byte header length)") }
            var lengthBytes = [UInt8](repeating: 0, count: 8)
            try Self.preadFully(fd, &lengthBytes, offset: 0, path: path)
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
            guard length <= UInt64(Self.maxHeaderBytes) else {
                throw HFError(file: path, "header length \(length) exceeds the \(Self.maxHeaderBytes)-byte limit")
            }
            guard length >= 2, Int(length) <= size - 8 else {
                throw HFError(file: path, "header length \(length) does not fit in the file (\(size) bytes)")
            }
            var headerBytes = [UInt8](repeating: 0, count: Int(length))
            try Self.preadFully(fd, &headerBytes, offset: 8, path: path)
            dataStart = 8 + Int(length)
            (entries, metadata) = try Self.parseHeader(headerBytes, dataLength: size - dataStart, path: path)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Parses and checks the JSON header against a data section of `dataLength` bytes.
    static func parseHeader(_ bytes: [UInt8], dataLength: Int, path: String) throws
        -> (entries: [String: SafetensorsEntry], metadata: [String: String]) {
        guard bytes.first == UInt8(ascii: "{") else { throw HFError(file: path, "the header does not start with '{' (not a safetensors file?)") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw HFError(file: path, "the header is not valid JSON")
        }
        guard let top = object as? [String: Any] else { throw HFError(file: path, "the header is not a JSON object") }
        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in top {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw HFError(file: path, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw HFError(file: path, "__metadata__ \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[name] = try parseEntry(name, value, path: path)
        }
        // The tensors must tile the data section: sorted by offset, each starts where the
        // previous ended, the last ends at the end of the file.
        var position = 0
        var previous: String?
        for e in entries.values.sorted(by: { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }) {
            if e.begin < position {
                throw HFError(file: path, "tensor \(e.name) bytes \(e.begin)..<\(e.end) overlap tensor \(previous ?? "?")")
            }
            if e.begin > position {
                throw HFError(file: path, "the data section has unused bytes \(position)..<\(e.begin) before tensor \(e.name)")
            }
            if e.end > dataLength {
                throw HFError(file: path, "tensor \(e.name) bytes \(e.begin)..<\(e.end) lie outside the data section (\(dataLength) bytes; truncated file?)")
            }
            position = e.end
            previous = e.name
        }
        if position != dataLength {
            throw HFError(file: path, "the data section holds \(dataLength) bytes but the tensors end at \(position)")
        }
        return (entries, metadata)
    }

    static func parseEntry(_ name: String, _ value: Any, path: String) throws -> SafetensorsEntry {
        guard let e = value as? [String: Any] else { throw HFError(file: path, "tensor \(name): entry is not an object") }
        if let extra = e.keys.sorted().first(where: { !["dtype", "shape", "data_offsets"].contains($0) }) {
            throw HFError(file: path, "tensor \(name): unknown key \(extra)")
        }
        guard let dtypeName = e["dtype"] as? String else { throw HFError(file: path, "tensor \(name): dtype is missing or not a string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            let what = SafetensorsDType.otherKnown.contains(dtypeName) ? "unsupported dtype" : "unknown dtype"
            throw HFError(file: path, "tensor \(name): \(what) \(dtypeName) (Pare reads F32, F16, BF16)")
        }
        guard let shape = integers(e["shape"]), shape.count <= 8 else {
            throw HFError(file: path, "tensor \(name): shape is missing or not a list of at most 8 non-negative integers")
        }
        guard let offsets = integers(e["data_offsets"]), offsets.count == 2, offsets[0] <= offsets[1] else {
            throw HFError(file: path, "tensor \(name): data_offsets must be [begin, end] with begin <= end")
        }
        var bytes = dtype.byteCount
        for d in shape {
            let (next, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw HFError(file: path, "tensor \(name): shape \(shape) is too large") }
            bytes = next
        }
        guard bytes == offsets[1] - offsets[0] else {
            throw HFError(file: path, "tensor \(name): shape \(shape) of \(dtypeName) needs \(bytes) bytes but data_offsets span \(offsets[1] - offsets[0])")
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// A JSON list of non-negative integers that fit in 2^53 (exact in a double), or nil.
    static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            // JSON true/false arrive as NSNumber too, of Objective-C type "c".
            guard let n = item as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
            let d = n.doubleValue
            guard d >= 0, d <= 9_007_199_254_740_992, d == d.rounded(), let i = Int(exactly: d) else { return nil }
            out.append(i)
        }
        return out
    }

    /// The entry named `name`, or an error naming the file and the tensor.
    public func entry(_ name: String) throws -> SafetensorsEntry {
        guard let e = entries[name] else { throw HFError(file: path, "tensor \(name) is missing") }
        return e
    }

    /// Rows `range` of tensor `name` seen as [rows, rowValues], widened to fp32.
    public func rows(of name: String, in range: Range<Int>) throws -> [Float] {
        let e = try entry(name)
        guard range.lowerBound >= 0, range.upperBound <= e.rows else {
            throw HFError(file: path, "tensor \(name): rows \(range) outside its \(e.rows) rows")
        }
        let values = range.count * e.rowValues
        let offset = dataStart + e.begin + range.lowerBound * e.rowValues * e.dtype.byteCount
        switch e.dtype {
        case .f32:
            var out = [Float](repeating: 0, count: values)
            try out.withUnsafeMutableBytes { try Self.preadFully(fd, $0, offset: offset, path: path) }
            return out.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        case .f16, .bf16:
            var bits = [UInt16](repeating: 0, count: values)
            try bits.withUnsafeMutableBytes { try Self.preadFully(fd, $0, offset: offset, path: path) }
            return HalfPrecision.widen(bits.map { UInt16(littleEndian: $0) }, bfloat: e.dtype == .bf16)
        }
    }

    /// The whole tensor `name`, widened to fp32.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        return Tensor(shape: e.shape, data: try rows(of: name, in: 0..<e.rows))
    }

    static func preadFully(_ fd: Int32, _ buffer: inout [UInt8], offset: Int, path: String) throws {
        try buffer.withUnsafeMutableBytes { try preadFully(fd, $0, offset: offset, path: path) }
    }

    static func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw HFError(file: path, n == 0 ? "unexpected end of file at byte \(offset + done)"
                                                 : "read failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}
