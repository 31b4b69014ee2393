import Foundation

/// Writes text files the way Pare writes every file (see `OutputPath`): through symlinks, never
/// onto a device or FIFO, to a temporary name in the same folder, then renamed into place.
public enum AtomicFile {
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    public static func write(_ data: Data, to path: String) throws {
        let output = try OutputPath(path)
        do {
            let fd = try output.createTemporaryFile()
            defer { close(fd) }
            try data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        throw OutputPathError(path: path, reason: "writing \(output.temporary ?? path): \(OutputPath.errorText(errno))")
                    }
                    offset += n
                }
            }
            // On disk before the rename makes it visible under its real name.
            guard fsync(fd) == 0 else {
                throw OutputPathError(path: path, reason: "syncing \(output.temporary ?? path): \(OutputPath.errorText(errno))")
            }
            try output.commit()
        } catch {
            output.discard()
            throw error
        }
    }
}
