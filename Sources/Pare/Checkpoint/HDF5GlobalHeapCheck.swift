import Foundation

/// Validates, from the raw bytes, the HDF5 global heap data behind a variable-length string
/// dataset or attribute before HDF5 reads it.
///
/// Why: global heap collections ("GCOL") carry no checksum, and HDF5 1.10 decodes them trusting
/// every size field. Fuzzing Pare's files found single flipped bits there, or in the references
/// pointing into them, that make HDF5 loop forever (an object size of 0), read past its buffer
/// (an object size beyond the collection) or overflow a heap buffer (a reference whose length
/// disagrees with its object). This check decodes exactly what HDF5 will decode, with bounds.
///
/// File format (HDF5 spec, "Global Heap"): a collection is "GCOL", version 1, 3 reserved bytes,
/// collection size (length-sized, header included), then objects: index (2), reference count (2),
/// reserved (4), size (length-sized), data padded to 8 bytes; index 0 is the trailing free space,
/// whose size covers its own header. A variable-length string element in a dataset is: length (4),
/// collection address (offset-sized), object index (4).
struct HDF5GlobalHeapCheck {
    struct Damage: Error { let reason: String }

    let path: String
    let superblock: HDF5Preflight.Report

    func checkStrings(_ layout: VariableStringLayout) throws {
        guard layout.storageSize > 0 else { return }  // nothing written: HDF5 reads empty strings
        guard layout.contiguous, let address = layout.address else {
            throw Damage(reason: "stored in a chunked or compact layout, which Pare cannot verify (store it contiguously)")
        }
        let offsetSize = superblock.offsetSize
        let elementSize = 8 + offsetSize
        let (expectedSize, overflow) = UInt64(layout.count).multipliedReportingOverflow(by: UInt64(elementSize))
        guard !overflow, expectedSize == layout.storageSize else {
            throw Damage(reason: "\(layout.storageSize) bytes of references for \(layout.count) strings")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Damage(reason: "cannot reopen the file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }

        // H5Dget_offset gives a position in the file (user block included); the references
        // inside hold heap addresses relative to the base address, as every on-disk address.
        let references = try read(fd, at: address, count: layout.count * elementSize, relative: false)
        try checkReferences(references, count: layout.count, fd: fd)
    }

    /// Checks one stored variable-length string reference (an attribute's, read raw by
    /// `HDF5RawReference`) and the heap collection it points into.
    func checkReference(_ reference: [UInt8]) throws {
        guard reference.count == 8 + superblock.offsetSize else {
            throw Damage(reason: "a string reference of \(reference.count) bytes")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Damage(reason: "cannot reopen the file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try checkReferences(reference, count: 1, fd: fd)
    }

    /// `count` stored references, each length (4), collection address (offset-sized), object
    /// index (4): every collection they name is decoded once, and each reference must name an
    /// object of exactly its length.
    private func checkReferences(_ references: [UInt8], count: Int, fd: Int32) throws {
        let offsetSize = superblock.offsetSize
        let elementSize = 8 + offsetSize
        var collections: [UInt64: [UInt32: UInt64]] = [:]  // address -> object index -> size
        for index in 0..<count {
            let start = index * elementSize
            let length = field(references, at: start, size: 4)
            let collection = field(references, at: start + 4, size: offsetSize)
            let object = UInt32(truncatingIfNeeded: field(references, at: start + 4 + offsetSize, size: 4))
            if collection == 0 && object == 0 && length == 0 { continue }  // a null string
            if collections[collection] == nil { collections[collection] = try objects(fd, collection: collection) }
            guard let size = collections[collection]?[object], object > 0 else {
                throw Damage(reason: "string \(index) refers to a missing heap object")
            }
            guard size == length else {
                throw Damage(reason: "string \(index) has length \(length) but its heap object holds \(size) bytes")
            }
        }
    }

    /// Decodes the collection at `collection` the way HDF5 does, but with every bound checked.
    private func objects(_ fd: Int32, collection: UInt64) throws -> [UInt32: UInt64] {
        let lengthSize = superblock.lengthSize
        let headerSize = 8 + lengthSize
        let header = try read(fd, at: collection, count: headerSize)
        guard header.prefix(5) == [0x47, 0x43, 0x4f, 0x4c, 0x01] else {  // "GCOL", version 1
            throw Damage(reason: "no heap collection at address \(collection)")
        }
        let size = field(header, at: 8, size: lengthSize)
        guard size >= UInt64(headerSize), size <= UInt64(superblock.fileSize) else {
            throw Damage(reason: "heap collection at \(collection) claims \(size) bytes")
        }
        let bytes = try read(fd, at: collection, count: Int(size))
        let objectHeaderSize = 8 + lengthSize
        var objects: [UInt32: UInt64] = [:]
        var position = headerSize
        while position < bytes.count {
            // HDF5 treats a tail too small for an object header as free space.
            if position + objectHeaderSize > bytes.count { break }
            let index = UInt32(field(bytes, at: position, size: 2))
            let objectSize = field(bytes, at: position + 8, size: lengthSize)
            let (padded, overflow) = objectSize.addingReportingOverflow(7)
            let need = index == 0 ? objectSize : UInt64(objectHeaderSize) + (overflow ? .max : padded & ~7)
            guard need > 0, need <= UInt64(bytes.count - position) else {
                throw Damage(reason: "heap collection at \(collection) has an object of impossible size \(objectSize)")
            }
            if index > 0 {
                guard objects.updateValue(objectSize, forKey: index) == nil else {
                    throw Damage(reason: "heap collection at \(collection) holds object \(index) twice")
                }
            }
            position += Int(need)
        }
        return objects
    }

    private func read(_ fd: Int32, at address: UInt64, count: Int, relative: Bool = true) throws -> [UInt8] {
        let (position, overflow) = address.addingReportingOverflow(relative ? superblock.baseAddress : 0)
        guard !overflow, position <= UInt64(superblock.fileSize),
              UInt64(count) <= UInt64(superblock.fileSize) - position else {
            throw Damage(reason: "heap data at address \(address) lies beyond the end of the file")
        }
        let bytes = HDF5Preflight.read(fd, at: Int(position), count: count)
        guard bytes.count == count else { throw Damage(reason: "cannot read heap data at address \(address)") }
        return bytes
    }

    private func field(_ bytes: [UInt8], at start: Int, size: Int) -> UInt64 {
        HDF5Preflight.littleEndian(bytes, at: start, size: size) ?? 0
    }
}
