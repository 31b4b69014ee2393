import Foundation

/// The tokenizer files of a Hugging Face model folder, kept byte for byte: what a pare-dlm file
/// stores under `/tokenizer/files/` for a `bpe` tokenizer (docs/format.md), what `pare convert`
/// reads and what `pare export --format hf` writes back.
///
/// Either `tokenizer.json` (LLaDA) or `vocab.json` + `merges.txt` (Dream, Qwen2) must be present;
/// the other files of `names` are kept when the folder has them.
public struct HFTokenizerFiles: Equatable, Sendable {
    /// File contents by name; every name is one of `names`.
    public let files: [String: [UInt8]]

    /// The files Pare keeps, in the order it reads, stores and writes them (the one list).
    public static let names = ["tokenizer.json", "vocab.json", "merges.txt", "added_tokens.json",
                               "tokenizer_config.json", "special_tokens_map.json"]

    /// Largest file accepted (LLaDA-8B's tokenizer.json is about 9 MB; a file far beyond this is
    /// not a tokenizer, and reading it whole would only waste memory).
    public static let maxFileBytes = 64 << 20

    public struct Problem: Error, CustomStringConvertible, Equatable, Sendable {
        public let reason: String
        public var description: String { reason }
    }

    /// Checks the names, the sizes and that one of the two layouts is complete.
    public init(files: [String: [UInt8]]) throws {
        if let unknown = files.keys.sorted().first(where: { !Self.names.contains($0) }) {
            throw Problem(reason: "\"\(unknown.escapedForOneLine)\" is not a tokenizer file Pare keeps (\(Self.names.joined(separator: ", ")))")
        }
        if let (name, bytes) = files.sorted(by: { $0.key < $1.key }).first(where: { $0.value.count > Self.maxFileBytes }) {
            throw Problem(reason: "\(name) has \(bytes.count) bytes, more than the \(Self.maxFileBytes) a tokenizer file may have")
        }
        guard files["tokenizer.json"] != nil || (files["vocab.json"] != nil && files["merges.txt"] != nil) else {
            throw Problem(reason: "no tokenizer.json, and not both vocab.json and merges.txt")
        }
        self.files = files
    }

    /// The files present, in `names` order.
    public var orderedNames: [String] { Self.names.filter { files[$0] != nil } }

    /// Reads the tokenizer files of the Hugging Face folder `directory`; missing optional files
    /// are skipped. Errors name the file and what is wrong with it.
    public static func read(directory: String) throws -> HFTokenizerFiles {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw Problem(reason: "\(directory) is not a folder")
        }
        var files: [String: [UInt8]] = [:]
        for name in names {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            files[name] = try readBounded(path)
        }
        do {
            return try HFTokenizerFiles(files: files)
        } catch let problem as Problem {
            throw Problem(reason: "\(directory): \(problem.reason)")
        }
    }

    /// Writes every file into `directory` (which must exist), each through `AtomicFile`.
    public func write(to directory: String) throws {
        for name in orderedNames {
            try AtomicFile.write(Data(files[name]!), to: URL(fileURLWithPath: directory).appendingPathComponent(name).path)
        }
    }

    /// The contents of a regular file of at most `maxFileBytes`, checked before reading it.
    /// Symlinks are followed: the Hugging Face cache links snapshot files to blobs.
    private static func readBounded(_ path: String) throws -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Problem(reason: "cannot read \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw Problem(reason: "\(path) is not a regular file") }
        let size = Int(info.st_size)
        guard size <= maxFileBytes else {
            throw Problem(reason: "\(path) has \(size) bytes, more than the \(maxFileBytes) a tokenizer file may have")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem(reason: "cannot read \(path)") }
        guard data.count <= maxFileBytes else {
            throw Problem(reason: "\(path) has \(data.count) bytes, more than the \(maxFileBytes) a tokenizer file may have")
        }
        return [UInt8](data)
    }
}
