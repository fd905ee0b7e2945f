// SMTP servers quote the address they refuse (`550 5.1.1 <bob@example.com>: Recipient
// address rejected`), and a refusal's text becomes a log line (a deferral is logged at
// info) and the message's `last_error`, both read by people who have no business learning
// who subscribes. So the transport redacts every address in a reply where it captures
// the reply, and nothing downstream can forget to.

public enum SMTPReply {
    /// What an address is replaced with.
    public static let placeholder = "[redacted]"

    /// `text` with every address in it replaced by `placeholder`:
    /// `550 5.1.1 <bob@example.com>: Recipient address rejected` →
    /// `550 5.1.1 <[redacted]>: Recipient address rejected`. An address is whatever
    /// surrounds an "@" up to white space or a delimiter (`<>()[],;:"`): a quoted local
    /// part, a non-ASCII one and an address literal (`bob@[192.0.2.1]`) included. Text
    /// without an "@" comes back as it is.
    public static func redacted(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "@")) else { return text }
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var copied = 0
        var index = 0
        while index < scalars.count {
            guard scalars[index] == "@" else {
                index += 1
                continue
            }
            let start = localPartStart(before: index, in: scalars, notBefore: copied)
            let end = domainEnd(after: index, in: scalars)
            // A lone "@" (nothing on either side) names no one.
            guard start < index || end > index + 1 else {
                index += 1
                continue
            }
            output.append(contentsOf: scalars[copied..<start])
            output.append(contentsOf: placeholder.unicodeScalars)
            copied = end
            index = end
        }
        output.append(contentsOf: scalars[copied...])
        return String(output)
    }

    /// The start of the local part ending at `at`: a quoted string, or the run of
    /// characters that are not white space or delimiters.
    private static func localPartStart(before at: Int, in scalars: [Unicode.Scalar], notBefore floor: Int) -> Int {
        if at > floor, scalars[at - 1] == "\"" {
            var index = at - 2
            while index >= floor {
                if scalars[index] == "\"", index == floor || scalars[index - 1] != "\\" { return index }
                index -= 1
            }
        }
        var start = at
        while start > floor, !isDelimiter(scalars[start - 1]) { start -= 1 }
        return start
    }

    /// The end of the domain starting after `at`: an address literal in brackets, or a
    /// run of letters, digits, hyphens and dots, without a sentence's final dot.
    private static func domainEnd(after at: Int, in scalars: [Unicode.Scalar]) -> Int {
        let start = at + 1
        if start < scalars.count, scalars[start] == "[",
           let close = scalars[start...].prefix(64).firstIndex(of: "]") {
            return close + 1
        }
        var end = start
        while end < scalars.count, isDomainScalar(scalars[end]) { end += 1 }
        while end > start, scalars[end - 1] == "." || scalars[end - 1] == "-" { end -= 1 }
        return end
    }

    private static func isDelimiter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control { return true }
        return "<>()[],;:\"@".unicodeScalars.contains(scalar)
    }

    private static func isDomainScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".": return true
        default:
            guard !scalar.isASCII else { return false }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
                return true
            default:
                // The IDNA dots: "。" "．" "｡".
                return scalar == "\u{3002}" || scalar == "\u{FF0E}" || scalar == "\u{FF61}"
            }
        }
    }
}
