/// GPT-2's byte-level alphabet: every byte is shown as one printable character, so a BPE
/// vocabulary of strings can spell any byte sequence. Printable Latin-1 bytes (`!`..`~`,
/// `¡`..`¬`, `®`..`ÿ`) stand for themselves; the other 68 bytes (controls, space, DEL, NBSP,
/// soft hyphen) take the characters U+0100, U+0101, ... in byte order (space becomes `Ġ`).
public enum ByteLevel {
    /// The character of each byte: [256].
    public static let characters: [Unicode.Scalar] = {
        var next: UInt32 = 256
        return (0..<256).map { byte in
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) {
                return Unicode.Scalar(UInt8(byte))
            }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()

    /// The byte each alphabet character stands for.
    public static let bytes: [Unicode.Scalar: UInt8] = Dictionary(
        uniqueKeysWithValues: characters.enumerated().map { ($1, UInt8($0)) })

    /// `bytes` spelled in the alphabet.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(characters[Int(byte)]) }
        return String(text)
    }

    /// The bytes a token spells, as the `tokenizers` ByteLevel decoder reads it: a token with a
    /// character outside the alphabet (an added token such as "<|mask|>" with a space, say)
    /// stands for its own UTF-8 bytes.
    public static func decode(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in token.unicodeScalars {
            guard let byte = bytes[scalar] else { return Array(token.utf8) }
            out.append(byte)
        }
        return out
    }
}
