import Foundation

/// How `eval --data` decides that a generated text answers a sample (README "User data sets").
///
/// Both texts are normalised first (`normalize`); the generated text is what the model wrote
/// before its first EOS.
public enum AnswerMatch: String, CaseIterable, Sendable {
    /// The normalised texts are equal.
    case exact
    /// The last number in the generated text equals the last number in the answer (GSM8K style).
    case number
    /// The normalised answer occurs inside the normalised generated text.
    case contains

    public func matches(generated: String, answer: String) -> Bool {
        switch self {
        case .exact: return Self.normalize(generated) == Self.normalize(answer)
        case .contains: return Self.normalize(generated).contains(Self.normalize(answer))
        case .number:
            guard let want = Self.lastNumber(in: answer), let got = Self.lastNumber(in: generated) else { return false }
            return got.value == want.value
        }
    }

    /// Unicode NFC (so a precomposed and a decomposed "é" are the same text), surrounding
    /// whitespace removed, and every inner run of whitespace (spaces, tabs, line breaks, any
    /// Unicode White_Space) replaced by one space. Case and punctuation are kept.
    public static func normalize(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        var out = ""
        var pendingSpace = false
        for scalar in nfc.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.unicodeScalars.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A number found in a text: `text` as written, `value` in canonical form.
    public struct Number: Equatable, Sendable {
        public var text: String
        /// No thousands separators, no leading zeros, no trailing fraction zeros, no "-" on zero:
        /// "1,000.50" and "1000.5" are both "1000.5", "-0.0" is "0".
        public var value: String
    }

    /// The last number in `text`. A number is ASCII digits, optionally with thousands groups
    /// (1-3 digits, then groups of "," and exactly 3 digits), optionally followed by "." and
    /// digits; a "-" right before it is its sign unless a letter or digit precedes the "-"
    /// ("x-5" and "3-2" contain 5 and 2, "= -5" contains -5). "$" and "%" around a number are
    /// not part of it; a "." not followed by a digit ends it ("72." is 72).
    public static func lastNumber(in text: String) -> Number? {
        numbers(in: text).last
    }

    /// Every number in `text`, in order (see `lastNumber`).
    public static func numbers(in text: String) -> [Number] {
        let s = Array(normalize(text).unicodeScalars)
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < s.count && ("0"..."9").contains(s[i]) }
        func isAlnum(_ i: Int) -> Bool { i >= 0 && i < s.count && (s[i].properties.isAlphabetic || isDigit(i)) }
        var found: [Number] = []
        var i = 0
        while i < s.count {
            guard isDigit(i) else { i += 1; continue }
            let negative = i >= 1 && s[i - 1] == "-" && !isAlnum(i - 2)
            let begin = negative ? i - 1 : i
            var j = i
            while isDigit(j) { j += 1 }
            var integer = String(String.UnicodeScalarView(s[i..<j]))
            // Thousands groups only after a first group of 1-3 digits: "12,345" but not "1234,567".
            if j - i <= 3 {
                while j < s.count && s[j] == "," && isDigit(j + 1) && isDigit(j + 2) && isDigit(j + 3) && !isDigit(j + 4) {
                    integer += String(String.UnicodeScalarView(s[(j + 1)...(j + 3)]))
                    j += 4
                }
            }
            var fraction = ""
            if j < s.count && s[j] == "." && isDigit(j + 1) {
                var k = j + 1
                while isDigit(k) { k += 1 }
                fraction = String(String.UnicodeScalarView(s[(j + 1)..<k]))
                j = k
            }
            let whole = integer.drop { $0 == "0" }
            let frac = fraction.reversed().drop { $0 == "0" }.reversed()
            var value = whole.isEmpty ? "0" : String(whole)
            if !frac.isEmpty { value += "." + String(frac) }
            if negative && value != "0" { value = "-" + value }
            found.append(Number(text: String(String.UnicodeScalarView(s[begin..<j])), value: value))
            i = j
        }
        return found
    }

    /// The binomial standard error of an accuracy p over n samples, sqrt(p (1 - p) / n)
    /// (the `acc_stderr` of lm-evaluation-harness uses n - 1; with n in the hundreds the two agree
    /// to well under a tenth of a point).
    public static func standardError(accuracy p: Double, samples n: Int) -> Double {
        n > 0 ? (p * (1 - p) / Double(n)).squareRoot() : 0
    }
}
