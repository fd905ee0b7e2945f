// Content-Transfer-Encodings (RFC 2045 §6): choosing one for a body part, and the
// quoted-printable and base64 codecs. The encoders serve the MIME renderer; the strict
// decoders serve the content guard, which must see exactly the text a mail client would
// show, and must refuse (not guess at) anything it cannot decode.

/// The encodings listgate writes. 8bit and binary are never written: they need the
/// 8BITMIME extension end to end, and 7bit, QP and base64 always fit.
public enum ContentTransferEncoding: String, Sendable, Equatable {
    case sevenBit = "7bit"
    case quotedPrintable = "quoted-printable"
    case base64

    /// RFC 5322 §2.1.1: no line may be longer than 998 octets, CRLF excluded.
    static let maximumLineLength = 998

    /// The encoding for a body that is already in canonical CRLF form.
    /// 7bit when it is plain ASCII with short lines; otherwise whichever of base64 and QP
    /// is smaller. QP spends 3 octets on each non-ASCII octet, base64 4/3 on every octet,
    /// so the two break even when one octet in six is non-ASCII: Japanese text is
    /// almost all multi-byte and goes base64, English with an accent goes QP.
    static func choose(for body: [UInt8]) -> ContentTransferEncoding {
        let nonASCII = body.count { $0 >= 0x80 }
        // A NUL is legal in no 7bit text (RFC 2045 §2.7), so it forces an encoding too.
        if nonASCII == 0, !body.contains(0), longestLine(in: body) <= maximumLineLength {
            return .sevenBit
        }
        return nonASCII * 6 > body.count ? .base64 : .quotedPrintable
    }

    /// Encodes a canonical CRLF body for this transfer encoding.
    func encode(_ body: [UInt8]) -> [UInt8] {
        switch self {
        case .sevenBit: body
        case .quotedPrintable: QuotedPrintable.encode(body)
        case .base64: MIMEBase64.encode(body)
        }
    }

    /// Octets on the longest CRLF-terminated line (a lone CR or LF counts as content).
    static func longestLine(in bytes: [UInt8]) -> Int {
        var longest = 0
        var current = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A {
                longest = max(longest, current)
                current = 0
                index += 2
            } else {
                current += 1
                index += 1
            }
        }
        return max(longest, current)
    }
}

// MARK: - Quoted-printable

/// RFC 2045 §6.7 quoted-printable over octets whose line breaks are CRLF.
public enum QuotedPrintable {
    /// Encoded lines are at most 76 characters, soft-break "=" included (rule 5).
    static let maximumEncodedLine = 76

    /// CRLF pairs stay hard line breaks; every other octet outside printable ASCII
    /// (a lone CR or LF included) becomes "=XX", as do "=" itself and a space or tab at the
    /// end of a line, which transports may strip (rule 3).
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3 / 2)
        let lines = CRLFLines.split(bytes)
        for (number, line) in lines.enumerated() {
            if number > 0 { output += [0x0D, 0x0A] }
            encodeLine(line, into: &output)
        }
        return output
    }

    private static func encodeLine(_ line: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var lineLength = 0
        for index in line.indices {
            let byte = line[index]
            let isLast = index == line.index(before: line.endIndex)
            let token = isLiteral(byte, atEndOfLine: isLast) ? [byte] : escaped(byte)
            // The last token may use column 76; any other must leave room for a soft break.
            let room = isLast ? maximumEncodedLine : maximumEncodedLine - 1
            if lineLength + token.count > room {
                output += [UInt8(ascii: "="), 0x0D, 0x0A]
                lineLength = 0
            }
            output += token
            lineLength += token.count
        }
    }

    private static func isLiteral(_ byte: UInt8, atEndOfLine: Bool) -> Bool {
        switch byte {
        case 0x21...0x3C, 0x3E...0x7E: true
        case 0x20, 0x09: !atEndOfLine
        default: false
        }
    }

    private static func escaped(_ byte: UInt8) -> [UInt8] {
        [UInt8(ascii: "="), MIMEHex.digit(byte >> 4), MIMEHex.digit(byte & 0x0F)]
    }

    /// Strict decoding: nil for a lone CR or LF, an "=" that is neither a soft break nor
    /// followed by two hex digits, or a raw octet outside printable ASCII, space and tab.
    /// Trailing blanks on a line are dropped as rule 3 requires (a transport may add them).
    public static func decode(_ encoded: [UInt8]) -> [UInt8]? {
        guard !CRLFLines.containsLoneBreak(encoded) else { return nil }
        // Line by line without listing the lines: a hostile part of millions of soft
        // breaks ("=" CRLF) would otherwise cost a slice per line.
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count)
        var lineStart = 0
        while true {
            var lineEnd = lineStart
            while lineEnd < encoded.count, encoded[lineEnd] != 0x0D { lineEnd += 1 }
            let isLastLine = lineEnd == encoded.count
            var line = encoded[lineStart..<lineEnd]
            while let last = line.last, last == 0x20 || last == 0x09 { line = line.dropLast() }
            let isSoftBreak = line.last == UInt8(ascii: "=")
            if isSoftBreak { line = line.dropLast() }
            guard decodeLine(line, into: &output) else { return nil }
            if isLastLine { return output }
            if !isSoftBreak { output += [0x0D, 0x0A] }
            // No lone CR: this one starts a CRLF.
            lineStart = lineEnd + 2
        }
    }

    private static func decodeLine(_ line: ArraySlice<UInt8>, into output: inout [UInt8]) -> Bool {
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            if byte == UInt8(ascii: "=") {
                guard index + 2 < line.endIndex,
                      let high = MIMEHex.value(line[index + 1]), let low = MIMEHex.value(line[index + 2]) else { return false }
                output.append(high << 4 | low)
                index += 3
            } else {
                guard (0x20...0x7E).contains(byte) || byte == 0x09 else { return false }
                output.append(byte)
                index += 1
            }
        }
        return true
    }
}

// MARK: - Base64

/// RFC 2045 §6.8 base64 in lines of 76 characters.
public enum MIMEBase64 {
    static let lineLength = 76
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Padded base64, lines joined by CRLF, no CRLF after the last line.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        encode(bytes, wrapAt: lineLength)
    }

    /// Padded base64 on one line, as encoded-words need it.
    static func encodeUnwrapped(_ bytes: [UInt8]) -> [UInt8] {
        encode(bytes, wrapAt: nil)
    }

    /// One pass over whole three-byte groups straight into the output, a CRLF after every
    /// `wrapAt` symbols (a multiple of four) except at the very end.
    private static func encode(_ bytes: [UInt8], wrapAt: Int?) -> [UInt8] {
        let symbols = (bytes.count + 2) / 3 * 4
        let breaks = wrapAt.map { symbols == 0 ? 0 : (symbols - 1) / $0 } ?? 0
        let groupsPerLine = (wrapAt ?? Int.max) / 4
        return [UInt8](unsafeUninitializedCapacity: symbols + 2 * breaks) { output, count in
            alphabet.withUnsafeBufferPointer { alphabet in
                bytes.withUnsafeBufferPointer { input in
                    var out = 0
                    var index = 0
                    var groupsOnLine = 0
                    func put(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, length: Int) {
                        if groupsOnLine == groupsPerLine {
                            output[out] = 0x0D
                            output[out + 1] = 0x0A
                            out += 2
                            groupsOnLine = 0
                        }
                        output[out] = alphabet[Int(b0 >> 2)]
                        output[out + 1] = alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)]
                        output[out + 2] = length > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "=")
                        output[out + 3] = length > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "=")
                        out += 4
                        groupsOnLine += 1
                    }
                    while index + 3 <= input.count {
                        put(input[index], input[index + 1], input[index + 2], length: 3)
                        index += 3
                    }
                    let rest = input.count - index
                    if rest > 0 {
                        put(input[index], rest > 1 ? input[index + 1] : 0, 0, length: rest)
                    }
                    count = out
                }
            }
        }
    }

    /// Strict decoding: line breaks must be CRLF; otherwise only alphabet characters, with
    /// "=" padding only at the very end and a total that is a multiple of four. A
    /// decoder that skipped stray characters could show a client's reading we never saw.
    public static func decode(_ encoded: [UInt8]) -> [UInt8]? {
        // One pass drops the CRLFs, copying the runs between them, and refuses a CR or
        // LF that is not part of a pair.
        var symbols: [UInt8] = []
        symbols.reserveCapacity(encoded.count)
        var runStart = 0
        var index = 0
        while index < encoded.count {
            switch encoded[index] {
            case 0x0D:
                guard index + 1 < encoded.count, encoded[index + 1] == 0x0A else { return nil }
                symbols += encoded[runStart..<index]
                index += 2
                runStart = index
            case 0x0A:
                return nil
            default:
                index += 1
            }
        }
        symbols += encoded[runStart...]
        return decodeUnwrapped(symbols)
    }

    static func decodeUnwrapped(_ symbols: [UInt8]) -> [UInt8]? {
        guard symbols.count % 4 == 0 else { return nil }
        var padding = 0
        while padding < symbols.count, symbols[symbols.count - 1 - padding] == UInt8(ascii: "=") { padding += 1 }
        guard padding <= 2 else { return nil }
        let valueCount = symbols.count - padding
        let sextets = Self.sextets
        var output: [UInt8] = []
        output.reserveCapacity(valueCount / 4 * 3 + 2)
        // Every group of four symbols is three octets...
        var index = 0
        while index + 4 <= valueCount {
            let v0 = sextets[Int(symbols[index])], v1 = sextets[Int(symbols[index + 1])]
            let v2 = sextets[Int(symbols[index + 2])], v3 = sextets[Int(symbols[index + 3])]
            guard (v0 | v1 | v2 | v3) & 0x80 == 0 else { return nil }
            output.append(v0 << 2 | v1 >> 4)
            output.append(v1 << 4 | v2 >> 2)
            output.append(v2 << 6 | v3)
            index += 4
        }
        // ...and a padded last group of two or three symbols is one or two octets.
        let rest = valueCount - index
        if rest > 0 {
            let v0 = sextets[Int(symbols[index])]
            let v1 = rest > 1 ? sextets[Int(symbols[index + 1])] : 0
            let v2 = rest > 2 ? sextets[Int(symbols[index + 2])] : 0
            guard (v0 | v1 | v2) & 0x80 == 0 else { return nil }
            output.append(v0 << 2 | v1 >> 4)
            if rest > 2 { output.append(v1 << 4 | v2 >> 2) }
        }
        return output
    }

    /// The sextet of each octet, or 0xFF (top bit set, which no sextet has) for an octet
    /// outside the alphabet, "=" included.
    private static let sextets: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(value) }
        return table
    }()
}

// MARK: - Shared octet helpers

enum MIMEHex {
    static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    /// Accepts lower case too: RFC 2045 asks encoders for upper case, but a guard must
    /// read what a lenient client would read.
    static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// Line handling shared by the codecs and the content guard: only CRLF ends a line.
enum CRLFLines {
    /// The lines of `bytes` split on CRLF pairs only; n pairs give n + 1 lines.
    static func split(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 0x0D, bytes[index + 1] == 0x0A {
                lines.append(bytes[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(bytes[start..<bytes.count])
        return lines
    }

    /// True if a CR is not followed by LF or an LF is not preceded by CR.
    static func containsLoneBreak(_ bytes: [UInt8]) -> Bool {
        for index in bytes.indices {
            switch bytes[index] {
            case 0x0D where index + 1 >= bytes.count || bytes[index + 1] != 0x0A: return true
            case 0x0A where index == 0 || bytes[index - 1] != 0x0D: return true
            default: continue
            }
        }
        return false
    }
}
