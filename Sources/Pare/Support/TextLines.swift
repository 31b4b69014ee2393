extension StringProtocol {
    /// The lines of a text file, ending at LF, CRLF or CR. (In Swift "\r\n" is one Character,
    /// so splitting on "\n" alone leaves a CRLF file as one line.)
    public var textLines: [SubSequence] {
        split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }
}

extension String {
    /// This text on one line: line breaks and other control characters shown escaped, so an
    /// error message that echoes user input stays one `error:` line.
    public var escapedForOneLine: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.properties.generalCategory == .control { out += "\\u{\(String(scalar.value, radix: 16))}" }
                else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
