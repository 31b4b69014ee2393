import Dispatch
import Foundation

/// An output that cannot be written, with the reason: `cannot write <path>: <reason>`.
public struct OutputPathError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}

/// The rules every file Pare writes follows (text files, model files, checkpoint folders):
///
/// - the output path is resolved first: a symlink is written *through* (its target is replaced,
///   the link is kept); a device, FIFO or socket is refused rather than replaced by a regular file;
/// - the new contents go to a short temporary name `.pare-tmp-<pid>-<n>` in the destination's
///   folder (short, so any legal output name works) and are renamed into place only when complete;
/// - temporaries in flight are removed on SIGINT/SIGTERM (see `installSignalCleanup`), and stale
///   ones left by a Pare process that no longer runs are swept from the folder on the next write.
///
///     let output = try OutputPath(path)          // refuses a directory, device, FIFO ...
///     let fd = try output.createTemporaryFile()  // write the contents to fd, close it
///     try output.commit()                        // or output.discard() on failure
public final class OutputPath {
    /// What the output is: a single file or a whole folder (a training checkpoint).
    public enum Kind: Sendable { case file, folder }

    /// The path as asked for.
    public let path: String
    /// Where the contents end up: `path` with any chain of symlinks at its end followed.
    public let destination: String
    /// The folder holding `destination`, where the temporary is made.
    public let folder: String
    public let kind: Kind
    /// The temporary being written, once `createTemporary` made it and until commit or discard.
    public private(set) var temporary: String?

    /// Resolves `path` and checks that it can be written: an existing destination must be a
    /// regular file (a folder for `.folder`) and its folder must exist and be writable.
    /// Sweeps stale temporaries of dead Pare processes from that folder.
    public init(_ path: String, kind: Kind = .file) throws {
        self.path = path
        self.kind = kind
        guard !path.isEmpty else { throw OutputPathError(path: path, reason: "the path is empty") }
        if kind == .file && path.hasSuffix("/") {
            throw OutputPathError(path: path, reason: "a file name cannot end in /")
        }
        let destination = try Self.followSymlinks(path)
        self.destination = destination
        folder = Self.folder(of: destination)
        let shown = destination == path ? path : "\(path) (a symlink to \(destination))"

        var info = stat()
        if stat(destination, &info) == 0 {
            let type = FileType(mode: info.st_mode)
            switch (kind, type) {
            case (.file, .regular), (.folder, .directory): break
            case (.file, .directory): throw OutputPathError(path: shown, reason: "it is a directory")
            case (.folder, _): throw OutputPathError(path: shown, reason: "it is \(type.description), not a directory")
            case (.file, _): throw OutputPathError(path: shown, reason: "it is \(type.description), not a regular file")
            }
        } else if errno != ENOENT {
            throw OutputPathError(path: shown, reason: Self.errorText(errno))
        }

        var folderInfo = stat()
        guard stat(folder, &folderInfo) == 0 else {
            throw OutputPathError(path: shown, reason: "folder \(folder): \(Self.errorText(errno))")
        }
        guard FileType(mode: folderInfo.st_mode) == .directory else {
            throw OutputPathError(path: shown, reason: "\(folder): \(Self.errorText(ENOTDIR))")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw OutputPathError(path: shown, reason: "folder \(folder): \(Self.errorText(errno))")
        }
        TemporaryFiles.shared.sweepStale(in: folder)
    }

    /// Makes the temporary with `create` (given its path; it must create it, failing if it
    /// exists) and registers it for removal on SIGINT/SIGTERM. The name and the registration are
    /// made under one lock with the creation, so a signal never leaves it behind.
    public func createTemporary<T>(_ create: (String) throws -> T) throws -> T {
        precondition(temporary == nil, "OutputPath.createTemporary: a temporary already exists")
        let (name, made) = try TemporaryFiles.shared.create(in: folder, create)
        temporary = name
        return made
    }

    /// Creates the temporary as an empty regular file and returns its descriptor, open for writing.
    public func createTemporaryFile() throws -> Int32 {
        try createTemporary { name in
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard fd >= 0 else { throw self.failure("cannot create a temporary file in \(self.folder): \(Self.errorText(errno))") }
            return fd
        }
    }

    /// Creates the temporary as an empty folder and returns its path.
    public func createTemporaryFolder() throws -> String {
        try createTemporary { name in
            guard mkdir(name, 0o777) == 0 else {
                throw self.failure("cannot create a temporary folder in \(self.folder): \(Self.errorText(errno))")
            }
            return name
        }
    }

    /// Renames the complete temporary into place. A folder replaces the previous one only after
    /// the new one is in place; the swap holds the signal-cleanup lock, so SIGINT/SIGTERM never
    /// finds the destination missing.
    public func commit() throws {
        guard let temporary else { preconditionFailure("OutputPath.commit: no temporary was created") }
        // A previous folder steps aside under a name the sweep never touches, so a crash between
        // the two renames loses nothing.
        let old = folder + "/.pare-old-\(getpid())-\(TemporaryFiles.shared.nextNumber())"
        try TemporaryFiles.shared.commit(temporary) {
            switch kind {
            case .file:
                guard rename(temporary, destination) == 0 else {
                    throw failure("cannot rename \(temporary) into place: \(Self.errorText(errno))")
                }
            case .folder:
                var info = stat()
                guard stat(destination, &info) == 0 else {
                    guard rename(temporary, destination) == 0 else {
                        throw failure("cannot rename \(temporary) into place: \(Self.errorText(errno))")
                    }
                    return nil
                }
                // Where the file system can, swap the two folders in one step (Linux
                // renameat2 RENAME_EXCHANGE): the destination is never missing, even if the
                // process dies right here. The previous checkpoint ends at the temporary's name
                // and is removed below.
                let injected = Self.faultInjection.hook(for: destination)
                if injected == nil && Self.exchange(temporary, destination) { return temporary }
                // The two-step fallback. The folder stepping aside is marked with the name it
                // had, so that a kill between the two renames can be undone by the next reader
                // (`restoreSteppedAside`), even with other outputs stepping aside in the folder.
                try Self.markSteppedAside(destination)
                guard rename(destination, old) == 0 else {
                    throw failure("cannot move the previous \(destination) aside: \(Self.errorText(errno))")
                }
                try injected?()
                guard rename(temporary, destination) == 0 else {
                    let reason = Self.errorText(errno)
                    rename(old, destination)
                    throw failure("cannot rename \(temporary) into place: \(reason)")
                }
                return old
            }
            return nil
        }
        self.temporary = nil
    }

    /// The file inside a folder that steps aside, naming the folder it was (its last component).
    static let steppedAsideMarker = ".pare-stepped-aside-from"

    private static func markSteppedAside(_ destination: String) throws {
        let name = URL(fileURLWithPath: destination).lastPathComponent
        guard FileManager.default.createFile(atPath: destination + "/" + steppedAsideMarker, contents: Data(name.utf8)) else {
            throw OutputPathError(path: destination, reason: "cannot mark the previous version before moving it aside")
        }
    }

    /// If the folder `path` is missing but its previous version stepped aside for a replacement
    /// that never arrived (a kill between the two renames of the fallback in `commit`), renames
    /// that version back to `path` and returns the name it had; nil otherwise. Readers of
    /// checkpoint folders (`--resume`) call this first, so no complete checkpoint is lost.
    @discardableResult
    public static func restoreSteppedAside(_ path: String) -> String? {
        guard let destination = try? followSymlinks(path) else { return nil }
        var info = stat()
        guard lstat(destination, &info) != 0, errno == ENOENT else { return nil }
        let folder = Self.folder(of: destination), name = URL(fileURLWithPath: destination).lastPathComponent
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        // Several candidates only after repeated kills: the most recently written is the newest.
        let candidates = entries.filter { $0.hasPrefix(".pare-old-") }.compactMap { entry -> (String, Date)? in
            let marker = folder + "/" + entry + "/" + steppedAsideMarker
            guard let data = FileManager.default.contents(atPath: marker), String(decoding: data, as: UTF8.self) == name,
                  let date = (try? FileManager.default.attributesOfItem(atPath: marker))?[.modificationDate] as? Date else { return nil }
            return (entry, date)
        }
        guard let newest = candidates.max(by: { $0.1 < $1.1 }),
              rename(folder + "/" + newest.0, destination) == 0 else { return nil }
        return newest.0
    }

    /// Fault injection for tests (Pare never sets it): for a destination registered here,
    /// `commit` takes the two-step fallback and runs the hook between its two renames; a hook
    /// that throws leaves the folder as a kill at that moment would.
    static let faultInjection = FaultInjection()

    final class FaultInjection: @unchecked Sendable {
        private let lock = NSLock()
        private var hooks: [String: () throws -> Void] = [:]
        func set(_ destination: String, _ hook: (() throws -> Void)?) {
            lock.lock(); defer { lock.unlock() }
            hooks[destination] = hook
        }
        func hook(for destination: String) -> (() throws -> Void)? {
            lock.lock(); defer { lock.unlock() }
            return hooks[destination]
        }
    }

    /// Atomically swaps two paths with renameat2(RENAME_EXCHANGE); false where the C library or
    /// the file system lacks it (then the caller renames in two steps). Looked up at run time:
    /// Swift's Glibc module does not declare renameat2.
    static func exchange(_ a: String, _ b: String) -> Bool {
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(nil, "renameat2") else { return false }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let renameExchange: UInt32 = 1 << 1
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange) == 0
    }

    /// Removes the temporary, if any (a failed or abandoned write leaves nothing behind).
    public func discard() {
        guard let temporary else { return }
        TemporaryFiles.shared.remove(temporary)
        self.temporary = nil
    }

    /// Makes SIGINT and SIGTERM remove every temporary in flight and exit with status 128 + signal.
    /// Call once, early in a program's main (a library leaves signals to its program).
    public static func installSignalCleanup() {
        TemporaryFiles.shared.installSignalHandlers()
    }

    /// The name pattern of Pare's temporaries: `.pare-tmp-<pid>-<n>`; the pid, or nil if `name`
    /// is not one.
    static func temporaryOwner(_ name: String) -> pid_t? {
        let prefix = ".pare-tmp-"
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = pid_t(parts[0]), pid > 0, UInt64(parts[1]) != nil else { return nil }
        return pid
    }

    private func failure(_ reason: String) -> OutputPathError {
        OutputPathError(path: destination == path ? path : "\(path) (a symlink to \(destination))", reason: reason)
    }

    /// Follows symlinks at the end of `path` (the folders above are resolved by the kernel when
    /// renaming, so only the last component matters). A dangling link resolves to its target,
    /// which the write then creates, as a shell redirection would.
    private static func followSymlinks(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0 else {
                if errno == ENOENT { return current }
                throw OutputPathError(path: path, reason: errorText(errno))
            }
            guard FileType(mode: info.st_mode) == .symlink else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &buffer, buffer.count - 1)
            guard count >= 0 else { throw OutputPathError(path: path, reason: "symlink \(current): \(errorText(errno))") }
            let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : folder(of: current) + "/" + target
        }
        throw OutputPathError(path: path, reason: errorText(ELOOP))
    }

    /// The folder part of a path ("." for a bare name).
    static func folder(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// The kind of an existing file, from `st_mode` (the values are the same on Linux and macOS).
enum FileType: Equatable {
    case regular, directory, symlink, characterDevice, blockDevice, fifo, socket, unknown

    init(mode: mode_t) {
        switch UInt32(mode) & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        default: self = .unknown
        }
    }

    var description: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .symlink: return "a symlink"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .fifo: return "a FIFO (named pipe)"
        case .socket: return "a socket"
        case .unknown: return "a special file"
        }
    }
}

/// The temporaries this process has in flight, so a signal can remove them.
final class TemporaryFiles: @unchecked Sendable {
    static let shared = TemporaryFiles()

    // Every change to `inFlight`, every creation of a temporary and every rename into place
    // happens under this lock; the signal handler takes it and never releases it (it exits), so
    // nothing new appears after it cleaned up.
    private let lock = NSLock()
    private var inFlight: Set<String> = []
    private var counter: UInt64 = 0
    private var signalSources: [DispatchSourceSignal] = []

    func nextNumber() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        counter += 1
        return counter
    }

    /// Creates a fresh temporary in `folder` with `create` and registers it.
    func create<T>(in folder: String, _ create: (String) throws -> T) throws -> (String, T) {
        lock.lock()
        defer { lock.unlock() }
        var name: String
        repeat {
            counter += 1
            name = folder + "/.pare-tmp-\(getpid())-\(counter)"
        } while access(name, F_OK) == 0   // a leftover of an earlier process that had this pid
        let made = try create(name)
        inFlight.insert(name)
        return (name, made)
    }

    /// Runs `rename` (which may return a folder it moved aside, removed afterwards) and
    /// unregisters `temporary` once it is in place.
    func commit(_ temporary: String, _ rename: () throws -> String?) throws {
        lock.lock()
        let old: String?
        do {
            old = try rename()
        } catch {
            lock.unlock()
            throw error
        }
        inFlight.remove(temporary)
        lock.unlock()
        if let old { try? FileManager.default.removeItem(atPath: old) }
    }

    func remove(_ temporary: String) {
        lock.lock()
        defer { lock.unlock() }
        Self.removeQuietly(temporary)
        inFlight.remove(temporary)
    }

    /// Removes `.pare-tmp-<pid>-<n>` entries of `folder` whose pid is not a running process.
    /// A pid that runs (or that we may not signal) keeps its files, so a live writer is never
    /// disturbed; a recycled pid only delays the sweep.
    func sweepStale(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names {
            guard let pid = OutputPath.temporaryOwner(name), pid != getpid(), !Self.isRunning(pid) else { continue }
            Self.removeQuietly(folder + "/" + name)
        }
    }

    static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    private static func removeQuietly(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if FileType(mode: info.st_mode) == .directory {
            try? FileManager.default.removeItem(atPath: path)
        } else {
            unlink(path)
        }
    }

    /// SIGINT and SIGTERM are taken from their default action and delivered to a dispatch
    /// source, so the cleanup runs as ordinary code (a C signal handler could not take a lock or
    /// walk a folder safely). Its queue is serial and so gets a thread of its own even while
    /// every core computes. A signal a parent set to be ignored (`nohup`, a background job of a
    /// script) stays ignored. Blocking the signals and waiting with `sigwait` would not do:
    /// libraries (OpenBLAS) start threads before main, and those would take the default action.
    func installSignalHandlers() {
        lock.lock()
        defer { lock.unlock() }
        guard signalSources.isEmpty else { return }
        let queue = DispatchQueue(label: "pare.signal-cleanup")
        for number in [SIGINT, SIGTERM] {
            let previous = signal(number, SIG_IGN)
            if unsafeBitCast(previous, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in self.cleanUpAndExit(signal: number) }
            source.resume()
            signalSources.append(source)
        }
    }

    private func cleanUpAndExit(signal number: Int32) -> Never {
        lock.lock()   // held until exit: no temporary can be created or renamed after this
        for temporary in inFlight { Self.removeQuietly(temporary) }
        fflush(stdout)
        _exit(128 + number)
    }
}
