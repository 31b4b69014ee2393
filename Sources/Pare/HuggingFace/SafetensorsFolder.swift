import Foundation

/// The weights of a Hugging Face folder: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor: shard file}}`),
/// where one block's tensors may be spread over several shards. Each shard is opened once and
/// read tensor by tensor.
public final class SafetensorsFolder: @unchecked Sendable {
    public let directory: String
    /// Which file holds each tensor.
    private let shardOf: [String: SafetensorsFile]
    /// The shards in file-name order.
    public let shards: [SafetensorsFile]

    public static let indexName = "model.safetensors.index.json"
    public static let singleName = "model.safetensors"
    /// The largest index JSON read (LLaDA-8B's is about 30 KB).
    static let maxIndexBytes = 100_000_000

    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        let indexPath = directory + "/" + Self.indexName
        let singlePath = directory + "/" + Self.singleName
        if fm.fileExists(atPath: indexPath) {
            let weightMap = try Self.readIndex(indexPath)
            var files: [String: SafetensorsFile] = [:]
            for name in Set(weightMap.values).sorted() {
                files[name] = try SafetensorsFile(path: directory + "/" + name)
            }
            var shardOf: [String: SafetensorsFile] = [:]
            for (tensor, name) in weightMap {
                let file = files[name]!
                guard file.entries[tensor] != nil else {
                    throw HFError(file: indexPath, "weight_map puts tensor \(tensor) in \(name), which does not hold it")
                }
                shardOf[tensor] = file
            }
            // A tensor a shard holds but the index does not list would be silently ignored.
            for (name, file) in files {
                if let stray = file.entries.keys.sorted().first(where: { weightMap[$0] != name }) {
                    throw HFError(file: indexPath, "shard \(name) holds tensor \(stray), which weight_map \(weightMap[stray].map { "puts in \($0)" } ?? "does not list")")
                }
            }
            self.shardOf = shardOf
            shards = files.keys.sorted().map { files[$0]! }
        } else if fm.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            shardOf = Dictionary(uniqueKeysWithValues: file.entries.keys.map { ($0, file) })
            shards = [file]
        } else {
            throw HFError(file: directory, "holds neither \(Self.singleName) nor \(Self.indexName)")
        }
    }

    /// The weight map of an index file, its shard names checked to be plain file names in the folder.
    static func readIndex(_ path: String) throws -> [String: String] {
        let data = try readSmallFile(path, limit: maxIndexBytes)
        guard let object = try? JSONSerialization.jsonObject(with: data), let top = object as? [String: Any] else {
            throw HFError(file: path, "is not a JSON object")
        }
        guard let map = top["weight_map"] as? [String: Any], !map.isEmpty else {
            throw HFError(file: path, "weight_map is missing, empty or not an object")
        }
        var out: [String: String] = [:]
        for (tensor, value) in map {
            guard let name = value as? String else { throw HFError(file: path, "weight_map[\(tensor)] is not a string") }
            // Shards are files of this folder: no path may leave it.
            guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.contains("\0") else {
                throw HFError(file: path, "weight_map[\(tensor)] = \"\(name)\" is not a file name in the folder")
            }
            out[tensor] = name
        }
        return out
    }

    /// Every tensor name of the checkpoint.
    public var tensorNames: [String] { shardOf.keys.sorted() }

    public func entry(_ name: String) throws -> SafetensorsEntry {
        guard let file = shardOf[name] else { throw HFError(file: directory, "tensor \(name) is missing") }
        return try file.entry(name)
    }

    public func rows(of name: String, in range: Range<Int>) throws -> [Float] {
        guard let file = shardOf[name] else { throw HFError(file: directory, "tensor \(name) is missing") }
        return try file.rows(of: name, in: range)
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let file = shardOf[name] else { throw HFError(file: directory, "tensor \(name) is missing") }
        return try file.tensor(name)
    }

    /// The file holding tensor `name` (for error messages).
    public func file(of name: String) -> String? { shardOf[name]?.path }
}

/// Reads a whole small file (a JSON config or index), refusing one over `limit` bytes or not a
/// regular file.
func readSmallFile(_ path: String, limit: Int) throws -> Data {
    var info = stat()
    guard stat(path, &info) == 0 else { throw HFError(file: path, "cannot read: \(String(cString: strerror(errno)))") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw HFError(file: path, "not a regular file") }
    guard Int(info.st_size) <= limit else { throw HFError(file: path, "\(info.st_size) bytes exceeds the \(limit)-byte limit") }
    guard let data = FileManager.default.contents(atPath: path) else { throw HFError(file: path, "cannot read") }
    return data
}
