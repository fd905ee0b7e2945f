// Finds what a reader would take for an address in decoded text: a token around every
// "@" (after undoing the usual disguises: full-width and small at signs, HTML character
// references, percent-encoding), with the readings under which it might be an address
// listgate may name. Works on UTF-8 octets, not arrays of scalars: it runs on every
// message before it is sent, and on whole pasted address files in a preflight.

import ListgateCore

// MARK: - Address tokens

/// Something in a text that looks like an address, with the readings under which it
/// could be the recipient or an allowed address.
struct AddressToken {
    /// The whole run around the "@", as a conservative reader sees it.
    let text: String
    /// `text`, and `text` without Japanese (non-ASCII) prose glued to either end:
    /// "お問い合わせはinfo@example.jpまで" is info@example.jp to a human reader.
    let readings: [String]

    /// Identity key when it parses, else the lower-cased text: one address counts once.
    var key: String { Self.key(of: text) }

    /// The key of every reading, without repeats: the token is a given address when any
    /// of them is that address's key.
    var candidateKeys: [String] {
        var keys: [String] = []
        for reading in readings {
            let key = Self.key(of: reading)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    /// `EmailAddress(text).identityKey`, or `text.lowercased()` when it does not parse.
    /// For ASCII text both are the lower-cased text (the local part is lower-cased, an
    /// ASCII domain is its own A-label, lower-cased; a token holds no blanks to trim), so
    /// the parse, about 12 µs, is skipped: it was nearly all of the guard's time on a
    /// message carrying a pasted address file.
    static func key(of text: String) -> String {
        if isASCII(text) { return text.lowercased() }
        return (try? EmailAddress(text))?.identityKey ?? text.lowercased()
    }

    static func isASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 < 0x80 }
    }
}

/// The keys of the readings met in one message, each non-ASCII one parsed once however
/// often it recurs (a parse costs tens of microseconds; an ASCII reading's key is its
/// lower-cased text and needs none).
///
/// Bounded: at most `maximumParses` distinct non-ASCII readings are parsed per message.
/// Past that a reading is taken not to parse (its key is its lower-cased text, and it is
/// never a permitted address): the message then fails closed, and a subscriber's address
/// written in non-ASCII among those readings is not recognised as one.
struct TokenKeys {
    static let maximumParses = 20_000

    private let parseLimit: Int
    /// The identity key of each parsed reading; nil when it does not parse.
    private var parsed: [String: String?] = [:]

    init(maximumParses: Int = Self.maximumParses) {
        parseLimit = maximumParses
    }

    /// The reading's identity key when it parses (within the bound), for a non-ASCII one.
    mutating func identityKey(ofWide reading: String) -> String? {
        if let known = parsed[reading] { return known }
        guard parsed.count < parseLimit else { return nil }
        let key = (try? EmailAddress(reading))?.identityKey
        parsed[reading] = .some(key)
        return key
    }

    /// `AddressToken.key(of:)`, through the cache.
    mutating func key(of reading: String) -> String {
        if AddressToken.isASCII(reading) { return reading.lowercased() }
        return identityKey(ofWide: reading) ?? reading.lowercased()
    }

    /// The key without parsing: nil for a non-ASCII reading not parsed yet.
    func knownKey(of reading: String) -> String? {
        if AddressToken.isASCII(reading) { return reading.lowercased() }
        guard let known = parsed[reading] else { return nil }
        return known ?? reading.lowercased()
    }

    /// `AddressToken.candidateKeys`, through the cache.
    mutating func candidateKeys(of token: AddressToken) -> [String] {
        var keys: [String] = []
        for reading in token.readings {
            let key = key(of: reading)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }
}

/// Scalar by scalar through UTF-8 octets that came from a String, and so are valid: a
/// scalar starts at every octet that is not a continuation octet (0b10xxxxxx), an ASCII
/// octet is always a whole scalar, and every octet of a non-ASCII scalar is 0x80 or more.
enum UTF8Scalars {
    /// The scalar starting at `index`, and the index after it.
    static func scalar(at index: Int, in bytes: [UInt8]) -> (scalar: Unicode.Scalar, end: Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (Unicode.Scalar(lead), index + 1) }
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        // The lead octet carries 5, 4 or 3 bits of the value, each continuation octet 6.
        var value = UInt32(lead & (0x7F >> length))
        for offset in 1..<length {
            value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", index + length)
    }

    /// The start of the scalar that ends just before `index` (which must be above 0).
    static func start(before index: Int, in bytes: [UInt8]) -> Int {
        var start = index - 1
        while bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return start
    }
}

enum AddressScanner {
    /// Fields holding msg-ids, whose "@domain" is not an address.
    static func isMessageIDField(_ lowercasedName: String) -> Bool {
        ["message-id", "in-reply-to", "references"].contains(lowercasedName)
    }

    /// Every address-looking token in `text`, after undoing the obfuscations that make
    /// an address readable to people but not to a naive scanner.
    static func tokens(in text: String) -> [AddressToken] {
        var tokens: [AddressToken] = []
        forEachToken(in: text) { tokens.append($0) }
        return tokens
    }

    /// The tokens of `text` one at a time, in order, none of them kept: 10 MiB of short
    /// addresses is over a million tokens.
    static func forEachToken(in text: String, _ body: (AddressToken) -> Void) {
        // "@" is a single octet that occurs inside no other scalar's UTF-8.
        let bytes = Deobfuscation.apply(Array(text.utf8))
        var quotes = QuoteTracker()
        for index in bytes.indices where bytes[index] == UInt8(ascii: "@") {
            if let token = token(around: index, in: bytes, quotes: &quotes) { body(token) }
        }
    }

    /// A local part always ends at the "@" (or at the backslash before it), and a domain
    /// always starts just after it.
    private static func token(around at: Int, in bytes: [UInt8], quotes: inout QuoteTracker) -> AddressToken? {
        // `evil\@attacker.test` is evil@attacker.test to a reader, and `"evil\@attacker.test"`
        // is how a quoted local part hides it: the backslash is stepped over, not taken
        // for the start of the local part.
        let localEnd = at > 0 && bytes[at - 1] == UInt8(ascii: "\\") ? at - 1 : at
        let localStart = localPartStart(before: localEnd, in: bytes, quotes: &quotes)
        guard localStart < localEnd else { return nil }
        let domainStart = at + 1
        // `evil@[192.0.2.1]`: an address literal names a host without a dot in sight.
        // EmailAddress refuses literals, so such a token can never be a permitted address.
        if let literalEnd = addressLiteralEnd(from: domainStart, in: bytes) {
            let text = reading(bytes, local: localStart..<localEnd, domain: domainStart..<literalEnd)
            return AddressToken(text: text, readings: [text])
        }
        var domainEnd = domainStart
        while domainEnd < bytes.count {
            let (scalar, next) = UTF8Scalars.scalar(at: domainEnd, in: bytes)
            guard isDomainScalar(scalar) else { break }
            domainEnd = next
        }
        domainEnd = trimTrailingSeparators(in: bytes, domainStart..<domainEnd)
        guard hasInnerSeparator(in: bytes, domainStart..<domainEnd) else { return nil }

        var localStarts = [localStart]
        var asciiLocalStart = localStart
        while asciiLocalStart < localEnd, bytes[asciiLocalStart] >= 0x80 { asciiLocalStart += 1 }
        if asciiLocalStart < localEnd, asciiLocalStart > localStart { localStarts.append(asciiLocalStart) }
        var domainEnds = [domainEnd]
        var proseFreeEnd = domainEnd
        while proseFreeEnd > domainStart, bytes[proseFreeEnd - 1] >= 0x80 { proseFreeEnd -= 1 }
        proseFreeEnd = trimTrailingSeparators(in: bytes, domainStart..<proseFreeEnd)
        if hasInnerSeparator(in: bytes, domainStart..<proseFreeEnd), proseFreeEnd < domainEnd {
            domainEnds.append(proseFreeEnd)
        }

        let readings = localStarts.flatMap { start in
            domainEnds.map { end in reading(bytes, local: start..<localEnd, domain: domainStart..<end) }
        }
        return AddressToken(text: readings[0], readings: readings)
    }

    /// The local part, "@" and the domain as one string: a run of `bytes` unless a
    /// backslash stood between the local part and the "@".
    private static func reading(_ bytes: [UInt8], local: Range<Int>, domain: Range<Int>) -> String {
        if local.upperBound + 1 == domain.lowerBound {
            return String(decoding: bytes[local.lowerBound..<domain.upperBound], as: UTF8.self)
        }
        return String(decoding: bytes[local], as: UTF8.self) + "@" + String(decoding: bytes[domain], as: UTF8.self)
    }

    /// The end (after "]") of an address literal starting at `start`: `[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3), at most 64 octets; nil when there is none.
    private static func addressLiteralEnd(from start: Int, in bytes: [UInt8]) -> Int? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "[") else { return nil }
        var index = start + 1
        while index < bytes.count, index - start <= 64 {
            let byte = bytes[index]
            if byte == UInt8(ascii: "]") { return index > start + 1 ? index + 1 : nil }
            guard isAddressLiteralOctet(byte) else { return nil }
            index += 1
        }
        return nil
    }

    /// Letters, digits and the punctuation of IPv4, IPv6 and general address literals.
    private static func isAddressLiteralOctet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// Start of the local part ending at `at`: a quoted string ending just before it, or
    /// the run of atext, dots and non-ASCII letters and digits (RFC 6531 local parts). A
    /// token with a quoted local part is never permitted (EmailAddress refuses quoted
    /// local parts), and the address a quoted string may hide is a token of its own.
    private static func localPartStart(before at: Int, in bytes: [UInt8], quotes: inout QuoteTracker) -> Int {
        if at > 0, bytes[at - 1] == UInt8(ascii: "\""), let opening = quotes.openingQuote(closing: at - 1, in: bytes) {
            return opening
        }
        var start = at
        while start > 0 {
            let previous = UTF8Scalars.start(before: start, in: bytes)
            guard isLocalPartScalar(UTF8Scalars.scalar(at: previous, in: bytes).scalar) else { break }
            start = previous
        }
        return start
    }

    /// The opening quote of a quoted local part: the nearest unescaped quote before the
    /// closing one, with no line break between, at most 130 scalars (the closing quote
    /// included) before the "@". One forward pass serves every "@" of a text: walking back
    /// from each (as this once did) is 130 steps per "@" on 10 MiB of `\"@`.
    struct QuoteTracker {
        static let maximumScalars = 130
        /// Octets before `cursor` have been looked at.
        private var cursor = 0
        private var lastQuote = -1
        private var lastBreak = -1

        /// Asked in the order of the text: `closing` never decreases.
        mutating func openingQuote(closing: Int, in bytes: [UInt8]) -> Int? {
            while cursor < closing {
                let byte = bytes[cursor]
                if byte == UInt8(ascii: "\""), cursor == 0 || bytes[cursor - 1] != UInt8(ascii: "\\") {
                    lastQuote = cursor
                } else if byte == 0x0D || byte == 0x0A {
                    lastBreak = cursor
                }
                cursor += 1
            }
            guard lastQuote >= 0, lastQuote > lastBreak else { return nil }
            // Scalars from the opening quote to the closing one, both included.
            let octets = closing + 1 - lastQuote
            if octets <= Self.maximumScalars { return lastQuote }
            if octets > 4 * Self.maximumScalars { return nil }
            let scalars = bytes[lastQuote...closing].count { $0 & 0xC0 != 0x80 }
            return scalars <= Self.maximumScalars ? lastQuote : nil
        }
    }

    private static func isLocalPartScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".",
                 "!", "#", "$", "%", "&", "'", "*", "+", "-", "/", "=", "?", "^", "_", "`", "{", "|", "}", "~":
                return true
            default:
                return false
            }
        }
        return isNonASCIIWordScalar(scalar)
    }

    private static func isDomainScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-": return true
        default: return isLabelSeparator(scalar) || (!scalar.isASCII && isNonASCIIWordScalar(scalar))
        }
    }

    private static func isNonASCIIWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            true
        default:
            false
        }
    }

    /// The IDNA dots EmailAddress accepts: ".", "。", "．", "｡".
    private static func isLabelSeparator(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "." || scalar == "\u{3002}" || scalar == "\u{FF0E}" || scalar == "\u{FF61}"
    }

    /// A sentence's full stop after an address is not part of its domain: the end of
    /// `domain` once trailing separators and hyphens are dropped.
    private static func trimTrailingSeparators(in bytes: [UInt8], _ domain: Range<Int>) -> Int {
        var end = domain.upperBound
        while end > domain.lowerBound {
            let last = UTF8Scalars.start(before: end, in: bytes)
            let scalar = UTF8Scalars.scalar(at: last, in: bytes).scalar
            guard isLabelSeparator(scalar) || scalar == "-" else { break }
            end = last
        }
        return end
    }

    /// At least two labels: a separator with something before it (and, since trailing
    /// separators are trimmed first, after it).
    private static func hasInnerSeparator(in bytes: [UInt8], _ domain: Range<Int>) -> Bool {
        var index = domain.lowerBound
        while index < domain.upperBound {
            let (scalar, next) = UTF8Scalars.scalar(at: index, in: bytes)
            if isLabelSeparator(scalar) { return index > domain.lowerBound && next < domain.upperBound }
            index = next
        }
        return false
    }
}

/// Undoes the ways an "@" is commonly disguised in text and HTML: full-width and small
/// commercial at, HTML character references, and URL percent-encoding. Works on UTF-8:
/// every pass replaces ASCII (or a wide at sign) with the UTF-8 of one scalar, so the
/// result is valid UTF-8 again.
enum Deobfuscation {
    static func apply(_ text: [UInt8]) -> [UInt8] {
        // Each pass runs only when its trigger is present: most mail has no `&`, `%`
        // or wide at sign, and this runs on every message before it is sent.
        // References first: `&#xFF20;` is a wide at sign, which only the last pass narrows.
        var result = text
        if result.contains(UInt8(ascii: "&")) { result = characterReferencesDecoded(result) }
        if result.contains(UInt8(ascii: "%")) { result = percentDecoded(result) }
        if result.contains(0xEF), result.indices.contains(where: { isWideAtSign(in: result, at: $0) }) {
            result = narrowingAtSigns(result)
        }
        return result
    }

    /// U+FF20 FULLWIDTH COMMERCIAL AT "＠" (EF BC A0) or U+FE6B SMALL COMMERCIAL AT "﹫"
    /// (EF B9 AB) at `index`.
    private static func isWideAtSign(in text: [UInt8], at index: Int) -> Bool {
        guard text[index] == 0xEF, index + 2 < text.count else { return false }
        return (text[index + 1] == 0xBC && text[index + 2] == 0xA0) || (text[index + 1] == 0xB9 && text[index + 2] == 0xAB)
    }

    private static func narrowingAtSigns(_ text: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if isWideAtSign(in: text, at: index) {
                output.append(UInt8(ascii: "@"))
                index += 3
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return output
    }

    /// `text` with HTML character references decoded, for comparing what a person reads.
    static func referencesDecoded(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return text }
        return String(decoding: characterReferencesDecoded(Array(text.utf8)), as: UTF8.self)
    }

    private static let namedReferences: [String: Unicode.Scalar] = [
        "commat": "@", "period": ".", "amp": "&", "lt": "<", "gt": ">", "quot": "\"",
        "apos": "'", "nbsp": " ", "hyphen": "-", "dash": "-", "lowbar": "_", "plus": "+",
    ]

    /// `&#64;`, `&#x40;`, `&commat;` and friends. Numeric references are decoded even
    /// without the ";" because browsers do the same.
    private static func characterReferencesDecoded(_ text: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "&"), let (scalar, length) = reference(in: text, at: index) {
                output.append(contentsOf: scalar.utf8)
                index += length
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return output
    }

    /// The scalar a reference at `start` stands for and its length in octets (all ASCII).
    private static func reference(in text: [UInt8], at start: Int) -> (Unicode.Scalar, Int)? {
        var index = start + 1
        guard index < text.count else { return nil }
        if text[index] == UInt8(ascii: "#") {
            index += 1
            let isHex = index < text.count && (text[index] == UInt8(ascii: "x") || text[index] == UInt8(ascii: "X"))
            if isHex { index += 1 }
            let digitsStart = index
            var value: UInt32 = 0
            while index < text.count, index - digitsStart < 7, let digit = digitValue(text[index], hex: isHex) {
                value = value * (isHex ? 16 : 10) + digit
                index += 1
            }
            guard index > digitsStart, let scalar = Unicode.Scalar(value) else { return nil }
            if index < text.count, text[index] == UInt8(ascii: ";") { index += 1 }
            return (scalar, index - start)
        }
        let nameStart = index
        while index < text.count, index - nameStart < 10, isASCIILetter(text[index]) { index += 1 }
        guard index < text.count, text[index] == UInt8(ascii: ";"),
              let scalar = namedReferences[String(decoding: text[nameStart..<index], as: UTF8.self).lowercased()] else {
            return nil
        }
        return (scalar, index + 1 - start)
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func digitValue(_ byte: UInt8, hex: Bool) -> UInt32? {
        if hex { return MIMEHex.value(byte).map(UInt32.init) }
        return (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? UInt32(byte - UInt8(ascii: "0")) : nil
    }

    /// `%40` and other printable ASCII escapes; anything else stays as written.
    private static func percentDecoded(_ text: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == UInt8(ascii: "%"), index + 2 < text.count,
               let high = MIMEHex.value(text[index + 1]),
               let low = MIMEHex.value(text[index + 2]),
               (0x21...0x7E).contains(high << 4 | low) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return output
    }
}
