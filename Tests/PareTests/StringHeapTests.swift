import Foundation
import Testing
@testable import Pare
import CHDF5

/// Variable-length string attributes on damaged global heaps (issue #10): HDF5 1.10 loops
/// forever, or corrupts memory, reading such an attribute, so Pare checks the attribute's heap
/// reference first (`HDF5RawReference`, `HDF5GlobalHeapCheck`). Each damaged copy must give one
/// error line naming the attribute, fast, through the CLI (a regression would hang or crash
/// the child, not the suite: the CLI's metadata deadline ends it).
@Suite struct StringHeapTests {
    /// The objects of the global heap collection at `address`, walked with the layout of the
    /// HDF5 spec ("Global Heap": "GCOL", version, 3 reserved, 8-byte size; per object index (2),
    /// reference count (2), reserved (4), size (8), data padded to 8 bytes; index 0 ends it).
    static func heapObjects(_ bytes: Data, collection address: Int) -> [(index: Int, sizeField: Int, size: Int)] {
        func u(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[address + at + $1]) << (8 * $1) } }
        let total = u(8, 8)
        var objects: [(Int, Int, Int)] = []
        var p = 16
        while p + 16 <= total {
            let index = u(p, 2), size = u(p + 8, 8)
            if index == 0 { break }
            objects.append((index, address + p + 8, size))
            p += 16 + (size + 7) / 8 * 8
        }
        return objects
    }

    static func setField(_ bytes: inout Data, at offset: Int, to value: Int) {
        for i in 0..<8 { bytes[offset + i] = UInt8((value >> (8 * i)) & 0xFF) }
    }

    /// Where "GCOL" signatures start.
    static func collections(_ bytes: Data) -> [Int] {
        var found: [Int] = []
        var from = bytes.startIndex
        while let r = bytes.range(of: Data("GCOL".utf8), in: from..<bytes.endIndex) {
            found.append(r.lowerBound)
            from = r.upperBound
        }
        return found
    }

    static func expectAttributeError(_ bytes: Data, _ name: String, _ message: String) throws {
        let dir = Fixtures.temporaryDirectory().path
        let path = dir + "/damaged.h5"
        try bytes.write(to: URL(fileURLWithPath: path))
        let start = Date()
        let r = try SparseCommandLineTests.pare(["inspect", "--model", path], in: dir)
        #expect(r.status == 1 && r.err == "error: \(path): \(message)\n", "\(name): exit \(r.status): \(r.err)")
        #expect(Date().timeIntervalSince(start) < 5, "\(name): the check, not the deadline")
    }

    /// A Pare-written file (superblock v3): its provenance history (5,447 bytes) has a heap
    /// collection of its own. A size field of 70,000 (over 65,536 crashed HDF5 with heap
    /// corruption) and a zeroed collection body (HDF5 looped forever) are both errors.
    @Test func provenanceHeapOfAPareFile() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: BundledRecipeTests.path("models/pare-tiny.h5")))
        let history = try #require(Self.collections(original).first { address in
            Self.heapObjects(original, collection: address).contains { $0.size > 4096 }
        }, "a collection holding the history")
        let object = try #require(Self.heapObjects(original, collection: history).first)

        var huge = original
        Self.setField(&huge, at: object.sizeField, to: 70_000)
        try Self.expectAttributeError(huge, "size 70000", "/provenance attribute history has a damaged string: heap collection at \(history) has an object of impossible size 70000")

        var zeroed = original
        zeroed.replaceSubrange((history + 16)..<(history + 16 + 64), with: Data(count: 64))
        try Self.expectAttributeError(zeroed, "zeroed", "/provenance attribute history has a damaged string: heap collection at \(history) has an object of impossible size 0")
    }

    /// An h5py-written file (superblock v0, version-1 object headers, no checksums) where every
    /// string shares one collection with the vocabulary: a size field that still decodes (same
    /// padding) but disagrees with the attribute's reference is an error for that attribute.
    @Test func sharedHeapOfAnH5pyFile() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("reference/tiny-gqa.h5")))
        let collection = try #require(Self.collections(original).first)
        let objects = Self.heapObjects(original, collection: collection)
        func text(_ o: (index: Int, sizeField: Int, size: Int)) -> String {
            String(decoding: original[(o.sizeField + 8)..<(o.sizeField + 8 + o.size)], as: UTF8.self)
        }
        let format = try #require(objects.first { text($0) == "pare-dlm" })
        let history = try #require(objects.first { text($0).hasPrefix("[{") })

        var shortFormat = original
        Self.setField(&shortFormat, at: format.sizeField, to: 7)
        try Self.expectAttributeError(shortFormat, "format", "/ attribute format has a damaged string: string 0 has length 8 but its heap object holds 7 bytes")

        var shortHistory = original
        Self.setField(&shortHistory, at: history.sizeField, to: history.size - 1)
        try Self.expectAttributeError(shortHistory, "history", "/provenance attribute history has a damaged string: string 0 has length \(history.size) but its heap object holds \(history.size - 1) bytes")
    }

    /// The raw reference of a healthy attribute is the reference HDF5 then follows: it names
    /// the collection and object holding the attribute's text, with its length.
    @Test func rawReferenceOfAHealthyAttribute() throws {
        let path = BundledRecipeTests.path("models/pare-tiny.h5")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let file = try H5Handle.openFile(path)
        let root = try file.openGroup("/")
        let reference = try HDF5.locked {
            try HDF5.scoped(H5Aopen(root.id, "format", pare_H5P_DEFAULT()), .attribute, "open") { attribute in
                try HDF5RawReference.read(attribute: attribute, offsetSize: 8)
            }
        }
        func u(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(reference[at + $1]) << (8 * $1) } }
        #expect(u(0, 4) == 8, "length of pare-dlm")
        let object = try #require(Self.heapObjects(bytes, collection: u(4, 8)).first { $0.index == u(12, 4) })
        #expect(String(decoding: bytes[(object.sizeField + 8)..<(object.sizeField + 16)], as: UTF8.self) == "pare-dlm")
        #expect(try root.readAttribute("format") == .string("pare-dlm"), "the normal read still works after the raw one")
    }
}
