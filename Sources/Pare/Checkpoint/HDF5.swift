import CHDF5
import Foundation

/// Something went wrong below the checkpoint layer; `summary` is the most useful one-line reason.
protocol HDF5Problem: Error {
    var summary: String { get }
}

/// A failed HDF5 call: what Pare was doing, and the innermost reason HDF5 recorded.
struct HDF5Failure: HDF5Problem, CustomStringConvertible {
    let operation: String
    let reason: String

    var description: String { reason.isEmpty ? operation : "\(operation): \(reason)" }
    /// HDF5's own reason ("incorrect metadata checksum...") when it gave one.
    var summary: String { reason.isEmpty ? operation : reason }
}

/// HDF5 worked, but what it returned is not something Pare accepts (a non-scalar attribute,
/// a string that is not UTF-8, an absurd dimension).
struct H5ContentProblem: HDF5Problem, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
    var summary: String { description }
}

/// Process-wide access to the HDF5 library.
///
/// HDF5 builds without --enable-threadsafe are not safe to call from several threads (global
/// caches, one global error stack), and tests, the CLI and evaluation may touch checkpoints from
/// several threads, so every call into the library — including closing handles from `deinit` —
/// runs under one recursive lock. (Debian's build happens to be thread-safe; others are not.)
enum HDF5 {
    private static let lock: NSRecursiveLock = {
        // No library clean-up at exit: a file whose final flush failed (a full disk) stays
        // registered half-closed, and HDF5's exit handler would crash closing it again. The
        // process is ending; the kernel releases everything, and the file is a temporary that
        // Pare has already removed.
        _ = H5dont_atexit()
        _ = H5open()
        return NSRecursiveLock()
    }()
    /// Nesting depth of `locked`; only read and written while holding `lock`.
    nonisolated(unsafe) private static var depth = 0

    @discardableResult
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        depth += 1
        defer {
            depth -= 1
            lock.unlock()
        }
        if depth == 1 {
            // Pare reports failures itself (one line naming file and tensor); HDF5's stack dump on
            // stderr would bury that line. Thread-safe HDF5 builds (Debian's) keep this setting
            // per thread, so it is renewed on every outermost entry rather than once.
            _ = H5Eset_auto2(pare_H5E_DEFAULT(), nil, nil)
        }
        return try body()
    }

    /// Returns `result` when it signals success (HDF5 ids and statuses are negative on failure).
    @discardableResult
    static func check<I: BinaryInteger>(_ result: I, _ operation: @autoclosure () -> String) throws -> I {
        guard result >= 0 else { throw HDF5Failure(operation: operation(), reason: innermostError()) }
        return result
    }

    /// Runs `body` with a freshly obtained temporary id (dataspace, type, property list...) and
    /// closes it afterwards whatever happens.
    @discardableResult
    static func scoped<T>(_ make: @autoclosure () -> hid_t, _ kind: H5Handle.Kind,
                          _ operation: @autoclosure () -> String, _ body: (hid_t) throws -> T) throws -> T {
        try locked {
            let id = try check(make(), operation())
            defer { kind.close(id) }
            return try body(id)
        }
    }

    /// The most specific description on HDF5's error stack, e.g.
    /// "truncated file: eof = 1024, sblock->base_addr = 0, stored_eof = 4096".
    static func innermostError() -> String {
        final class Box { var last = "" }
        let box = Box()
        locked {
            _ = withExtendedLifetime(box) {
                H5Ewalk2(pare_H5E_DEFAULT(), H5E_WALK_DOWNWARD, { _, error, client in
                    guard let error, let client, let desc = error.pointee.desc else { return 0 }
                    let text = String(cString: desc)
                    if !text.isEmpty { Unmanaged<Box>.fromOpaque(client).takeUnretainedValue().last = text }
                    return 0
                }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
        return box.last
    }
}

/// An owned HDF5 identifier, closed exactly once (explicitly or on `deinit`).
///
/// Swift may end an object's lifetime right after its last use, so `id` is only read inside the
/// methods of this class or while the handle is a parameter of the running function; temporaries
/// inside one function use `HDF5.scoped` instead.
final class H5Handle {
    enum Kind {
        case file, group, dataset, attribute, dataspace, datatype, propertyList, object

        func close(_ id: hid_t) {
            switch self {
            case .file:
                // A file created with the "semi" close degree refuses to close while objects in
                // it are open (only on error paths), so those are closed first. H5Fclose is then
                // called exactly once: after a failed close (a full disk fails the final flush)
                // the id still looks valid, but a second H5Fclose on it crashes inside HDF5.
                closeObjects(in: id)
                _ = H5Fclose(id)
            case .group: _ = H5Gclose(id)
            case .dataset: _ = H5Dclose(id)
            case .attribute: _ = H5Aclose(id)
            case .dataspace: _ = H5Sclose(id)
            case .datatype: _ = H5Tclose(id)
            case .propertyList: _ = H5Pclose(id)
            case .object: _ = H5Oclose(id)
            }
        }

        func closeObjectsBeforeFile(_ file: hid_t) { closeObjects(in: file) }

        private func closeObjects(in file: hid_t) {
            let types = UInt32(H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL)
            let count = H5Fget_obj_count(file, types)
            guard count > 0 else { return }
            var ids = [hid_t](repeating: -1, count: count)
            let found = H5Fget_obj_ids(file, types, count, &ids)
            for object in ids.prefix(max(0, found)) where object >= 0 {
                switch H5Iget_type(object) {
                case H5I_DATASET: _ = H5Dclose(object)
                case H5I_GROUP: _ = H5Gclose(object)
                case H5I_DATATYPE: _ = H5Tclose(object)
                case H5I_ATTR: _ = H5Aclose(object)
                default: break
                }
            }
        }
    }

    let kind: Kind
    private(set) var id: hid_t
    private var isOpen = true

    init(_ id: hid_t, _ kind: Kind, _ operation: @autoclosure () -> String) throws {
        self.id = try HDF5.check(id, operation())
        self.kind = kind
    }

    /// Closes now and reports failure (needed for files: only a successful H5Fclose means the
    /// bytes are on disk).
    func close() throws {
        guard isOpen else { return }
        isOpen = false
        try HDF5.locked {
            guard kind == .file else { return kind.close(id) }
            // Once, whatever it returns (see Kind.close): a failure means the bytes may not all
            // be on disk, and the caller discards the file.
            kind.closeObjectsBeforeFile(id)
            try HDF5.check(H5Fclose(id), "cannot close the HDF5 file")
        }
    }

    deinit {
        if isOpen { HDF5.locked { kind.close(id) } }
    }
}

// MARK: - Files

extension H5Handle {
    static func openFile(_ path: String, writable: Bool = false) throws -> H5Handle {
        try HDF5.scoped(fileAccessList(forWriting: false), .propertyList, "creating a file access list") { fapl in
            try H5Handle(H5Fopen(path, writable ? pare_H5F_ACC_RDWR() : pare_H5F_ACC_RDONLY(), fapl), .file,
                         "cannot open \(path) as HDF5")
        }
    }

    /// Creates a new file (failing if it exists) in the newest HDF5 format, whose superblock,
    /// object headers and chunk indices carry checksums, so corruption there reads as an error.
    /// Closing fails while any object in it is still open, so a successful `close()` means the
    /// file is complete.
    static func createFile(_ path: String) throws -> H5Handle {
        try HDF5.scoped(fileAccessList(forWriting: true), .propertyList, "creating a file access list") { fapl in
            try H5Handle(H5Fcreate(path, pare_H5F_ACC_EXCL(), pare_H5P_DEFAULT(), fapl), .file, "cannot create \(path)")
        }
    }

    private static func fileAccessList(forWriting: Bool) -> hid_t {
        HDF5.locked {
            let fapl = H5Pcreate(pare_H5P_FILE_ACCESS())
            guard fapl >= 0 else { return fapl }
            // File locks guard against a concurrent writer; on file systems without them (some
            // network mounts) HDF5 would otherwise refuse to open anything.
            var ok = pare_set_file_locking(fapl) >= 0
            if forWriting {
                ok = ok && H5Pset_libver_bounds(fapl, pare_H5F_LIBVER_LATEST(), pare_H5F_LIBVER_LATEST()) >= 0
                    && H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI) >= 0
            }
            if !ok {
                _ = H5Pclose(fapl)
                return -1
            }
            return fapl
        }
    }
}

// MARK: - Groups and links

extension H5Handle {
    /// True when every component of `path` (absolute, or relative to this location) exists.
    /// Throws when one of them is a link to another file (see `checkLinks`).
    func exists(_ path: String) throws -> Bool {
        try HDF5.locked {
            var prefix = path.hasPrefix("/") ? "/" : ""
            for component in path.split(separator: "/") {
                prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
                let status = H5Lexists(id, prefix, pare_H5P_DEFAULT())
                if status == 0 { return false }
                try HDF5.check(status, "looking up \(prefix)")
                try checkLink(prefix)
            }
            return true
        }
    }

    /// Refuses a path that passes through an external or user-defined link. A model is one
    /// self-contained file: an external link would make Pare read (and its raw-byte checks
    /// inspect) another file than the one it was given, which crashed HDF5. Hard and soft links
    /// stay inside the file and are followed.
    func checkLinks(_ path: String) throws {
        try HDF5.locked {
            var prefix = path.hasPrefix("/") ? "/" : ""
            for component in path.split(separator: "/") {
                prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
                try checkLink(prefix)
            }
        }
    }

    private func checkLink(_ path: String) throws {
        let type = pare_link_type(id, path)
        if type == H5L_TYPE_EXTERNAL.rawValue {
            throw H5ContentProblem("\(path) is an external link to another file; Pare reads only models stored in one file")
        }
        if type > H5L_TYPE_SOFT.rawValue {
            throw H5ContentProblem("\(path) is a user-defined link (type \(type)); Pare follows only hard and soft links")
        }
    }

    func openGroup(_ path: String) throws -> H5Handle {
        try HDF5.locked {
            try checkLinks(path)
            return try H5Handle(H5Gopen2(id, path, pare_H5P_DEFAULT()), .group, "cannot open group \(path)")
        }
    }

    /// Opens the dataset at `path`; refuses datasets whose values live outside this file
    /// (external storage, virtual datasets), for the reason external links are refused.
    func openDataset(_ path: String) throws -> H5Handle {
        try HDF5.locked {
            try checkLinks(path)
            let dataset = try H5Handle(H5Dopen2(id, path, pare_H5P_DEFAULT()), .dataset, "cannot open dataset \(path)")
            try HDF5.scoped(H5Dget_create_plist(dataset.id), .propertyList, "reading the creation properties of \(path)") { dcpl in
                if try HDF5.check(H5Pget_external_count(dcpl), "reading the storage of \(path)") > 0 {
                    throw H5ContentProblem("\(path) keeps its values in external files; Pare reads only models stored in one file")
                }
                if H5Pget_layout(dcpl) == H5D_VIRTUAL {
                    throw H5ContentProblem("\(path) is a virtual dataset (values mapped from other datasets or files); Pare reads only datasets stored in the file")
                }
            }
            return dataset
        }
    }

    /// Whether `path` names a group, a dataset or something else (named datatype, broken link).
    func objectKind(_ path: String) throws -> H5I_type_t {
        try checkLinks(path)
        return try HDF5.scoped(H5Oopen(id, path, pare_H5P_DEFAULT()), .object, "cannot open \(path)") { H5Iget_type($0) }
    }

    /// Names of the links directly inside this group, in name order.
    func childNames() throws -> [String] {
        try HDF5.locked {
            var info = H5G_info_t()
            try HDF5.check(H5Gget_info(id, &info), "listing a group")
            return try (0..<info.nlinks).map { index in
                let length = try HDF5.check(H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0,
                                                               pare_H5P_DEFAULT()), "reading a link name")
                var bytes = [CChar](repeating: 0, count: Int(length) + 1)
                try HDF5.check(H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &bytes, bytes.count,
                                                  pare_H5P_DEFAULT()), "reading a link name")
                return String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
    }

    /// Creates the group at `path` and any missing groups above it.
    @discardableResult
    func createGroup(_ path: String) throws -> H5Handle {
        try HDF5.scoped(Self.intermediateGroupsList(), .propertyList, "creating link list") { lcpl in
            try H5Handle(H5Gcreate2(id, path, lcpl, pare_H5P_DEFAULT(), pare_H5P_DEFAULT()), .group,
                         "cannot create group \(path)")
        }
    }

    /// Removes the link at `path` (tests use it to damage files).
    func deleteLink(_ path: String) throws {
        try HDF5.locked { try HDF5.check(H5Ldelete(id, path, pare_H5P_DEFAULT()), "cannot delete \(path)") }
    }

    /// A link creation property list that creates missing intermediate groups.
    static func intermediateGroupsList() -> hid_t {
        HDF5.locked {
            let lcpl = H5Pcreate(pare_H5P_LINK_CREATE())
            if lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) < 0 {
                _ = H5Pclose(lcpl)
                return -1
            }
            return lcpl
        }
    }
}
