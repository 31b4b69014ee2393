/// 16-bit storage formats of weights: IEEE float16 and bfloat16 (the upper half of a float32).
///
/// Widening to fp32 is exact for both. Narrowing rounds to nearest, ties to even; values that
/// round past the format's largest finite number become infinite, which writers check for.
public enum HalfPrecision {
    /// Every float16 value indexed by bit pattern (256 KiB): a lookup is several times faster
    /// than converting where the CPU has no half-float instructions enabled (x86-64 baseline),
    /// and exact by construction.
    private static let float16Table: [Float] = (0...UInt16.max).map { Float(Float16(bitPattern: $0)) }

    /// Widens n half values into fp32. `bfloat` selects bfloat16, else float16.
    public static func widen(_ bits: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count n: Int, bfloat: Bool) {
        if bfloat {
            let raw = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt32.self)
            for i in 0..<n { raw[i] = UInt32(bits[i]) << 16 }
        } else {
            float16Table.withUnsafeBufferPointer { table in
                for i in 0..<n { out[i] = table[Int(bits[i])] }
            }
        }
    }

    public static func widen(_ bits: [UInt16], bfloat: Bool) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { buffer, initialized in
            bits.withUnsafeBufferPointer { b in
                if let src = b.baseAddress, let dst = buffer.baseAddress { widen(src, into: dst, count: b.count, bfloat: bfloat) }
            }
            initialized = bits.count
        }
    }

    /// bfloat16 bits of x, rounded to nearest even (NaN stays NaN).
    @inline(__always)
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if x.isNaN { return UInt16(u >> 16) | 0x40 }
        let rounded = u &+ 0x7FFF &+ ((u >> 16) & 1)
        return UInt16(rounded >> 16)
    }

    /// Narrows fp32 values to half bits.
    public static func narrow(_ values: [Float], bfloat: Bool) -> [UInt16] {
        bfloat ? values.map(bfloat16Bits) : values.map { Float16($0).bitPattern }
    }

    /// The first index whose value does not survive narrowing as a finite number, or nil.
    public static func firstOverflow(_ values: [Float], bfloat: Bool) -> Int? {
        values.withUnsafeBufferPointer { p in
            if bfloat {
                return p.firstIndex { !$0.isFinite || bfloat16Bits($0) & 0x7F80 == 0x7F80 }
            }
            // Floats of magnitude 65520 and above round to infinity in float16.
            return p.firstIndex { !(abs($0) < 65520) }
        }
    }
}
