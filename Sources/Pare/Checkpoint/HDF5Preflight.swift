import Foundation

/// Cheap checks on the raw bytes before a file is handed to HDF5.
///
/// They turn the most common defects — a file that is not HDF5 at all, or one cut short by an
/// interrupted copy — into precise errors instead of HDF5's generic "unable to open file", and
/// they keep files HDF5 would have to guess about away from it.
enum HDF5Preflight {
    enum Verdict: Equatable {
        case plausible
        case notHDF5
        case truncated(size: Int, expectedSize: Int)
    }

    /// What the superblock says about the file, as far as later raw-byte checks need it.
    struct Report {
        var verdict: Verdict
        var fileSize: Int
        /// 0 and 1 (h5py's default) have no checksums; 2 and 3 (what Pare writes) do.
        var superblockVersion = 0
        /// Byte widths of file addresses and lengths (8 and 8 in practice).
        var offsetSize = 8
        var lengthSize = 8
        /// Where address 0 is in the file (after a user block).
        var baseAddress: UInt64 = 0
    }

    /// Failures of the file system itself (missing file, a directory, no permission).
    struct OpenFailure: Error { let reason: String }

    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    static func check(path: String) throws -> Report {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; the
        // fstat below then refuses anything but a regular file.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw OpenFailure(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw OpenFailure(reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw OpenFailure(reason: "not a regular file") }
        let size = Int(info.st_size)

        // HDF5 looks for the superblock at 0, 512, 1024, 2048, ... (after a user block).
        var base = 0
        while base + signature.count <= size {
            if read(fd, at: base, count: signature.count) == signature {
                return report(superblock: read(fd, at: base, count: 96), at: base, fileSize: size)
            }
            base = base == 0 ? 512 : base * 2
        }
        return Report(verdict: .notHDF5, fileSize: size)
    }

    /// Reads the field widths and compares the end-of-file address recorded in the superblock
    /// with the real size.
    private static func report(superblock bytes: [UInt8], at base: Int, fileSize: Int) -> Report {
        var report = Report(verdict: .plausible, fileSize: fileSize)
        guard bytes.count > 14 else {
            report.verdict = .truncated(size: fileSize, expectedSize: base + 96)
            return report
        }
        let version = bytes[8]
        report.superblockVersion = Int(version)
        report.offsetSize = Int(version >= 2 ? bytes[9] : bytes[13])
        report.lengthSize = Int(version >= 2 ? bytes[10] : bytes[14])
        guard [2, 4, 8].contains(report.offsetSize) else { return report }  // let HDF5 judge oddities
        let addressStart: Int
        switch version {
        case 0: addressStart = 24
        case 1: addressStart = 28
        default: addressStart = 12
        }
        // Fields: base address, then (v0/1) free-space address or (v2+) extension address, then EOF.
        guard let baseAddress = littleEndian(bytes, at: addressStart, size: report.offsetSize),
              let eof = littleEndian(bytes, at: addressStart + 2 * report.offsetSize, size: report.offsetSize) else {
            report.verdict = .truncated(size: fileSize, expectedSize: base + addressStart + 3 * report.offsetSize)
            return report
        }
        report.baseAddress = baseAddress
        let undefined = report.offsetSize == 8 ? UInt64.max : (UInt64(1) << (8 * report.offsetSize)) - 1
        guard eof != undefined else { return report }
        // The end-of-file address counts from the start of the file, user block included (the
        // HDF5 library writes it so: a file with a 512-byte user block records base 512 and its
        // whole size), so it is compared with the size as it is.
        if eof > UInt64(fileSize) {
            report.verdict = .truncated(size: fileSize, expectedSize: Int(clamping: eof))
        }
        return report
    }

    static func littleEndian(_ bytes: [UInt8], at start: Int, size: Int) -> UInt64? {
        guard start + size <= bytes.count else { return nil }
        return bytes[start..<(start + size)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func read(_ fd: Int32, at offset: Int, count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return Array(buffer.prefix(max(0, got)))
    }
}
