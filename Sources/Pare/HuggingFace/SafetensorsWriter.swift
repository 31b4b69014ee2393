import Foundation

/// Writes tensors as safetensors shards of at most `maxShardBytes` of data each, plus
/// `model.safetensors.index.json` when there is more than one (one shard is `model.safetensors`,
/// as `save_pretrained` names them). Tensors are written row slab by row slab, so none has to be
/// whole in memory. The caller owns atomicity: `pare export` writes into a temporary folder that
/// is renamed into place when complete (`OutputPath`, kind `.folder`).
public struct SafetensorsWriter {
    /// One tensor to write: its name, shape and stored dtype.
    public struct Item: Sendable {
        public let name: String
        public let shape: [Int]
        public let dtype: SafetensorsDType
        public init(name: String, shape: [Int], dtype: SafetensorsDType) { self.name = name; self.shape = shape; self.dtype = dtype }
        var bytes: Int { shape.reduce(1, *) * dtype.byteCount }
        var rows: Int { shape.first ?? 1 }
        var rowValues: Int { shape.dropFirst().reduce(1, *) }
    }

    public let maxShardBytes: Int
    /// Bytes of values read and written at a time, per tensor.
    public let slabBytes: Int

    public init(maxShardBytes: Int = 5_000_000_000, slabBytes: Int = 16 << 20) {
        self.maxShardBytes = max(1, maxShardBytes)
        self.slabBytes = max(1, slabBytes)
    }

    /// Groups the items, in order, into shards: a new shard starts when the next tensor would
    /// take the current one over the limit (a tensor larger than the limit gets a shard of its own).
    public func plan(_ items: [Item]) -> [[Item]] {
        var shards: [[Item]] = [[]]
        var size = 0
        for item in items {
            if !shards[shards.count - 1].isEmpty && size + item.bytes > maxShardBytes {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append(item)
            size += item.bytes
        }
        return shards
    }

    /// The shard file names `save_pretrained` uses.
    public static func shardNames(count: Int) -> [String] {
        count == 1 ? [SafetensorsFolder.singleName]
                   : (1...count).map { String(format: "model-%05d-of-%05d.safetensors", $0, count) }
    }

    /// Writes `items` into `directory` (which must exist). `rows(name, range)` returns rows
    /// `range` of tensor `name` as fp32 [range.count * rowValues]. Returns the file names written.
    @discardableResult
    public func write(_ items: [Item], into directory: String,
                      rows: (String, Range<Int>) throws -> [Float]) throws -> [String] {
        let shards = plan(items)
        let names = Self.shardNames(count: shards.count)
        var weightMap: [String: String] = [:]
        var total = 0
        for (shard, name) in zip(shards, names) {
            try writeShard(shard, to: directory + "/" + name, rows: rows)
            for item in shard { weightMap[item.name] = name; total += item.bytes }
        }
        if shards.count > 1 {
            let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
            let data = try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try Self.writeFile(directory + "/" + SafetensorsFolder.indexName, data)
            return names + [SafetensorsFolder.indexName]
        }
        return names
    }

    func writeShard(_ items: [Item], to path: String, rows: (String, Range<Int>) throws -> [Float]) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for item in items {
            header[item.name] = ["dtype": item.dtype.rawValue, "shape": item.shape, "data_offsets": [offset, offset + item.bytes]] as [String: Any]
            offset += item.bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        // Pad the header with spaces so the data section starts 8-byte aligned (as the reference does).
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw HFError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var length = UInt64(json.count).littleEndian
        try withUnsafeBytes(of: &length) { try Self.writeAll(fd, $0, path: path) }
        try json.withUnsafeBytes { try Self.writeAll(fd, $0, path: path) }
        for item in items {
            let rowsPerSlab = max(1, slabBytes / max(1, item.rowValues * 4))
            for start in stride(from: 0, to: item.rows, by: rowsPerSlab) {
                let range = start..<min(start + rowsPerSlab, item.rows)
                let values = try rows(item.name, range)
                guard values.count == range.count * item.rowValues else {
                    throw HFError(file: path, "tensor \(item.name) rows \(range): \(values.count) values, expected \(range.count * item.rowValues)")
                }
                if let bad = ModelWriter.firstUnstorable(values, as: item.dtype.storage) {
                    throw HFError(file: path, "tensor \(item.name) value \(values[bad]) at flat index \(start * item.rowValues + bad) cannot be stored as \(item.dtype.rawValue)")
                }
                switch item.dtype {
                case .f32:
                    try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try Self.writeAll(fd, $0, path: path) }
                case .f16, .bf16:
                    try HalfPrecision.narrow(values, bfloat: item.dtype == .bf16).map { $0.littleEndian }
                        .withUnsafeBytes { try Self.writeAll(fd, $0, path: path) }
                }
            }
        }
        guard fsync(fd) == 0 else { throw HFError(file: path, "cannot sync: \(String(cString: strerror(errno)))") }
    }

    static func writeFile(_ path: String, _ data: Data) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw HFError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
        guard fsync(fd) == 0 else { throw HFError(file: path, "cannot sync: \(String(cString: strerror(errno)))") }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HFError(file: path, "write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
