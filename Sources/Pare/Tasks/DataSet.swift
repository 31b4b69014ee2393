import Foundation

/// A user data set: a JSONL file with one `{"prompt": "...", "answer": "..."}` object per line.
///
/// `eval --data`, `prune --calibration FILE.jsonl` and `finetune --data FILE.jsonl` all read it
/// through here, so the three accept and refuse exactly the same files. Blank lines are skipped;
/// every other line must be a JSON object with exactly the two string fields. Anything else is
/// an error naming the file and the 1-based line.
public struct DataSet: Sendable {
    public struct Sample: Sendable, Equatable {
        public var prompt: String
        public var answer: String
        /// 1-based line of the file, for errors and `--log-samples`.
        public var line: Int
        public init(prompt: String, answer: String, line: Int) {
            self.prompt = prompt; self.answer = answer; self.line = line
        }
    }

    public var path: String
    public var samples: [Sample]

    /// Limits that keep a wrong file (a binary, a dump) an error rather than a memory bomb.
    public static let maxFileBytes = 1 << 30
    public static let maxLineBytes = 1 << 20

    /// Whether `path` names a JSONL file (by its `.jsonl` extension), for the options that also
    /// take other text forms (`--calibration`, `finetune --data`).
    public static func isJSONL(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".jsonl")
    }

    public static func read(_ path: String) throws -> DataSet {
        try parse(try readBytes(path), path: path)
    }

    /// The file's bytes, refusing what is not a readable regular file or is too large.
    static func readBytes(_ path: String) throws -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DataSetError(path: path, line: nil, reason: "cannot read it: \(String(cString: strerror(errno)))")
        }
        // A FIFO or device would block or never end.
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DataSetError(path: path, line: nil, reason: "not a regular file")
        }
        guard Int(info.st_size) <= maxFileBytes else {
            throw DataSetError(path: path, line: nil, reason: "\(info.st_size) bytes, more than the \(maxFileBytes >> 20) MiB a data set may have")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataSetError(path: path, line: nil, reason: "cannot read it")
        }
        return data
    }

    /// Parses JSONL bytes. Lines end at LF (a CR before it is dropped); a UTF-8 byte order mark
    /// at the start is skipped.
    public static func parse(_ data: Data, path: String) throws -> DataSet {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        var samples: [Sample] = []
        var start = 0, line = 0
        while start < bytes.count {
            line += 1
            var end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let next = end + 1
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            defer { start = next }
            func fail(_ reason: String) -> DataSetError { DataSetError(path: path, line: line, reason: reason) }
            guard end - start <= maxLineBytes else {
                throw fail("\(end - start) bytes, more than the \(maxLineBytes >> 20) MiB a line may have")
            }
            let raw = bytes[start..<end]
            guard let text = String(validating: raw, as: UTF8.self) else { throw fail("not valid UTF-8") }
            if text.allSatisfy(\.isWhitespace) { continue }
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])
            } catch {
                throw fail("not valid JSON")
            }
            guard let fields = object as? [String: Any] else {
                throw fail("expected a JSON object {\"prompt\": ..., \"answer\": ...}")
            }
            let extra = fields.keys.filter { $0 != "prompt" && $0 != "answer" }.sorted()
            if !extra.isEmpty {
                throw fail("unknown field\(extra.count > 1 ? "s" : "") \(extra.map { "\"\($0)\"" }.joined(separator: ", ")) (expected only \"prompt\" and \"answer\")")
            }
            func string(_ key: String) throws -> String {
                guard let value = fields[key] else { throw fail("missing field \"\(key)\"") }
                // JSONSerialization gives numbers and booleans as NSNumber, null as NSNull.
                guard let s = value as? String, !(value is NSNumber) else { throw fail("field \"\(key)\" is not a string") }
                return s
            }
            samples.append(Sample(prompt: try string("prompt"), answer: try string("answer"), line: line))
        }
        if samples.isEmpty { throw DataSetError(path: path, line: nil, reason: "no samples (an empty file or only blank lines)") }
        return DataSet(path: path, samples: samples)
    }
}

/// A data set file that cannot be used, with the 1-based line when one line is at fault.
public struct DataSetError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let line: Int?
    public let reason: String
    public init(path: String, line: Int?, reason: String) { self.path = path; self.line = line; self.reason = reason }
    public var description: String { line.map { "\(path):\($0): \(reason)" } ?? "\(path): \(reason)" }
}
