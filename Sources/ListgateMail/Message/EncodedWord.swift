// RFC 2047 encoded-words ("=?UTF-8?B?…?=") for the Subject and display names, their
// decoding (for the content guard and tests), and folding of header fields.
//
// Words are cut on Character (grapheme cluster) boundaries: RFC 2047 §5 forbids splitting
// a multi-octet character across words, and many Japanese mail clients decode each word
// on its own, so a word ending in a base letter whose combining dakuten opens the next
// word shows up as two broken characters.

import ListgateCore

/// UTF-8 B encoded-words.
public enum EncodedWord {
    /// RFC 2047 §2: an encoded-word is at most 75 characters.
    public static let maximumLength = 75
    /// RFC 2047 §2: a header line holding encoded-words is at most 76 characters.
    static let maximumLineLength = 76
    private static let prefix = "=?UTF-8?B?"
    private static let suffix = "?="

    /// Encodes `text` as words of at most 75 characters, the first at most
    /// `firstWordLimit` (the room left on the field's first line). Each word holds whole
    /// Characters; only a single Character too large for any word (dozens of stacked
    /// combining marks) is cut, and then between Unicode scalars, so every word is still
    /// valid UTF-8 on its own.
    public static func encode(_ text: String, firstWordLimit: Int = maximumLength) -> [String] {
        let firstCapacity = payloadCapacity(forWordLength: min(firstWordLimit, maximumLength))
        let capacity = payloadCapacity(forWordLength: maximumLength)
        var chunks: [[UInt8]] = []
        var current: [UInt8] = []
        var currentCapacity = max(firstCapacity, 3)

        func flush() {
            guard !current.isEmpty else { return }
            chunks.append(current)
            current = []
            currentCapacity = capacity
        }

        for character in text {
            let bytes = Array(String(character).utf8)
            if current.count + bytes.count > currentCapacity { flush() }
            if bytes.count <= currentCapacity {
                current += bytes
                continue
            }
            // A Character bigger than a whole word: fall back to scalar boundaries.
            for scalar in character.unicodeScalars {
                let scalarBytes = Array(String(scalar).utf8)
                if current.count + scalarBytes.count > currentCapacity { flush() }
                current += scalarBytes
            }
        }
        flush()
        return chunks.map { prefix + String(decoding: MIMEBase64.encodeUnwrapped($0), as: UTF8.self) + suffix }
    }

    /// UTF-8 octets that fit in one word of `length` characters: base64 comes in groups
    /// of four characters per three octets.
    static func payloadCapacity(forWordLength length: Int) -> Int {
        max(0, (length - prefix.count - suffix.count) / 4 * 3)
    }

    /// Decodes every encoded-word in an unfolded header value (RFC 2047 §6), dropping the
    /// white space between adjacent words. Octets of adjacent words are joined before
    /// UTF-8 decoding, as lenient clients do. ISO-2022-JP, Shift_JIS (and CP932) and
    /// EUC-JP words are decoded strictly through iconv, so that a full-width at sign in
    /// them is seen; other charsets are read as UTF-8 with replacement characters, which
    /// keeps every ASCII character visible. Returns nil when something shaped like an
    /// encoded-word does not decode.
    public static func decodeHeaderValue(_ value: String) -> String? {
        decodeHeaderValue(value, decoders: CharsetDecoders())
    }

    /// `decodeHeaderValue(_:)` with the converters of one message, each charset's opened once.
    static func decodeHeaderValue(_ value: String, decoders: CharsetDecoders) -> String? {
        let scalars = Array(value.unicodeScalars)
        var result = String.UnicodeScalarView()
        var pendingOctets: [UInt8] = []
        /// The iconv name of the pending octets' charset; nil for UTF-8 and the rest.
        var pendingCharset: String?
        var pendingBlanks = String.UnicodeScalarView()
        var index = 0

        func flushOctets() -> Bool {
            guard !pendingOctets.isEmpty else { return true }
            defer { pendingOctets = [] }
            guard let charset = pendingCharset else {
                result.append(contentsOf: String(decoding: pendingOctets, as: UTF8.self).unicodeScalars)
                return true
            }
            guard let text = decoders.decode(pendingOctets, from: charset) else { return false }
            result.append(contentsOf: text.unicodeScalars)
            return true
        }

        while index < scalars.count {
            if let word = parseWord(scalars, at: index) {
                guard let octets = word.octets() else { return nil }
                // Octets are joined only within one charset: a character may be split
                // between two words, but not between two charsets.
                if word.iconvCharset != pendingCharset {
                    guard flushOctets() else { return nil }
                    pendingCharset = word.iconvCharset
                }
                // Blanks between two encoded-words are folding, not text.
                pendingBlanks = String.UnicodeScalarView()
                pendingOctets += octets
                index = word.end
                continue
            }
            let scalar = scalars[index]
            if scalar == " " || scalar == "\t", !pendingOctets.isEmpty {
                pendingBlanks.append(scalar)
            } else {
                guard flushOctets() else { return nil }
                result.append(contentsOf: pendingBlanks)
                pendingBlanks = String.UnicodeScalarView()
                result.append(scalar)
            }
            index += 1
        }
        guard flushOctets() else { return nil }
        result.append(contentsOf: pendingBlanks)
        return String(result)
    }

    private struct ParsedWord {
        /// For a charset iconv must decode, its iconv name.
        let iconvCharset: String?
        let isBase64: Bool
        let text: [UInt8]
        let end: Int

        func octets() -> [UInt8]? {
            isBase64 ? MIMEBase64.decodeUnwrapped(text) : QEncoding.decode(text)
        }
    }

    /// `=?charset?B|Q?text?=` starting at `start`, or nil if the scalars there do not have
    /// that shape (then "=?" is ordinary text).
    private static func parseWord(_ scalars: [Unicode.Scalar], at start: Int) -> ParsedWord? {
        guard start + 1 < scalars.count, scalars[start] == "=", scalars[start + 1] == "?" else { return nil }
        var index = start + 2
        let charsetStart = index
        while index < scalars.count, isTokenScalar(scalars[index]) { index += 1 }
        guard index > charsetStart, index + 2 < scalars.count, scalars[index] == "?",
              scalars[index + 2] == "?" else { return nil }
        let charsetEnd = index
        let isBase64: Bool
        switch scalars[index + 1] {
        case "B", "b": isBase64 = true
        case "Q", "q": isBase64 = false
        default: return nil
        }
        index += 3
        var text: [UInt8] = []
        while index + 1 < scalars.count, !(scalars[index] == "?" && scalars[index + 1] == "=") {
            let scalar = scalars[index]
            guard scalar.isASCII, scalar.value > 0x20, scalar.value < 0x7F, scalar != "?" else { return nil }
            text.append(UInt8(scalar.value))
            index += 1
        }
        guard index + 1 < scalars.count, scalars[index] == "?", scalars[index + 1] == "=" else { return nil }
        // RFC 2231 §5: "charset*language".
        let charset = String(String.UnicodeScalarView(scalars[charsetStart..<charsetEnd]))
            .split(separator: "*", maxSplits: 1, omittingEmptySubsequences: false)[0].lowercased()
        return ParsedWord(iconvCharset: MessageCharset.iconvName(charset), isBase64: isBase64, text: text, end: index + 2)
    }

    /// RFC 2045 token characters, plus "*" for an RFC 2231 language suffix.
    private static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII, scalar.value > 0x20, scalar.value < 0x7F else { return false }
        return !"()<>@,;:\\\"/[]?=".unicodeScalars.contains(scalar)
    }
}

/// RFC 2047 §4.2 "Q" encoding, decode only: listgate never writes it.
private enum QEncoding {
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var index = 0
        while index < text.count {
            switch text[index] {
            case UInt8(ascii: "_"):
                output.append(0x20)
                index += 1
            case UInt8(ascii: "="):
                guard index + 2 < text.count, let high = MIMEHex.value(text[index + 1]),
                      let low = MIMEHex.value(text[index + 2]) else { return nil }
                output.append(high << 4 | low)
                index += 3
            case let byte:
                output.append(byte)
                index += 1
            }
        }
        return output
    }
}

// MARK: - Folding

/// Builds one header field from items that may not be broken (words, encoded-words,
/// an angle-bracketed address), joining them with a space while the line has room and
/// with CRLF SP (RFC 5322 §2.2.3 folding) when it has not.
struct HeaderFolder {
    /// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters.
    static let preferredLineLength = 78

    private(set) var text: String
    private var lineLength: Int
    private var hasItems = false
    private let limit: Int

    init(name: String, limit: Int = preferredLineLength) {
        text = name + ":"
        lineLength = text.utf8.count
        self.limit = limit
    }

    /// Appends `item` after a space, or on a new line if it would not fit. `alwaysFold`
    /// starts a new line regardless (between encoded-words, RFC 2047 §2). The first item
    /// always stays on the name's line: a field body may not start with a fold.
    mutating func append(_ item: String, alwaysFold: Bool = false) {
        let length = item.utf8.count
        if hasItems, alwaysFold || lineLength + 1 + length > limit {
            text += "\r\n " + item
            lineLength = 1 + length
        } else {
            text += " " + item
            lineLength += 1 + length
        }
        hasItems = true
    }

    /// The field with its terminating CRLF.
    var line: String { text + "\r\n" }
}
