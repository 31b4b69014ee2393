/// CRC-32 (IEEE 802.3, the one zlib and Python's `zlib.crc32` compute).
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { byte in
        (0..<8).reduce(UInt32(byte)) { crc, _ in crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }

    static func checksum<S: Sequence>(_ bytes: S, startingWith crc: UInt32 = 0) -> UInt32 where S.Element == UInt8 {
        ~bytes.reduce(~crc) { crc, byte in table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }

    /// The `/tokenizer` `vocab_crc32` value: the CRC of every entry's UTF-8 bytes, each followed by
    /// a 0 byte (Python: `zlib.crc32(b"".join(s.encode() + b"\0" for s in vocab))`).
    static func vocabulary(_ vocab: [String]) -> UInt32 {
        vocab.reduce(0) { crc, entry in checksum(Array(entry.utf8) + [0], startingWith: crc) }
    }
}
