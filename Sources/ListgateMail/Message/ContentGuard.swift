// The last check before a message leaves: it re-reads the rendered octets the way a mail
// client would and refuses anything that could show one person another person's address
// (a pasted address file, a second To, a Cc). It trusts nothing the renderer meant to do,
// only what the bytes say, and it fails closed: whatever it cannot parse or decode fails.
//
// Failure reasons go to logs and the CLI, so they name the kind of problem, where, and
// how many, and never the foreign addresses themselves.
//
// It runs on every message before it is sent, so the parsing works on slices of the
// message's octets (parts are never copied out and re-joined) and the address scan on
// UTF-8 octets rather than on arrays of Unicode scalars.

import ListgateCore

public enum GuardVerdict: Equatable, Sendable {
    case pass
    case fail(reason: String)
}

public struct ContentGuard: Sendable {
    private let recipient: EmailAddress
    /// identityKeys of the recipient and of every allowed address.
    private let permittedKeys: Set<String>
    /// The recipient and the allowed addresses as UTF-8, spelled exactly as they were
    /// parsed (`entered`). Parsing depends on nothing but the text, so a token spelled
    /// octet for octet like one of these parses to that very address again: it is
    /// permitted without the (comparatively slow) parse. Any other spelling is parsed.
    private let permittedSpellings: [[UInt8]]

    /// recipient: the one person; allowed: the list's From, Reply-To and --allow-address entries.
    public init(recipient: EmailAddress, allowed: [EmailAddress]) {
        self.recipient = recipient
        permittedKeys = Set([recipient.identityKey] + allowed.map(\.identityKey))
        permittedSpellings = ([recipient] + allowed).map { Array($0.entered.utf8) }
    }

    public func check(_ raw: [UInt8]) -> GuardVerdict {
        do {
            try inspect(raw)
            return .pass
        } catch {
            return .fail(reason: error.reason)
        }
    }

    private func inspect(_ raw: [UInt8]) throws(GuardFailure) {
        try LineRules.check(raw)
        let message = try RawEntity.parse(raw[...], isMessage: true)
        // The whole structure is decoded before any verdict on content, so every
        // message, however wrong its To, goes through the same parser.
        var bodyTexts: [String] = []
        try BodyReader.collectTexts(of: message, depth: 0, into: &bodyTexts)
        try checkAddressFields(message.fields)

        var tally = ForeignAddressTally()
        for field in message.fields where !AddressScanner.isMessageIDField(field.lowercasedName) {
            let text = try field.decodedValue()
            tally.add(foreignAddresses(in: text), at: .header(field.displayName))
        }
        for text in bodyTexts {
            tally.add(foreignAddresses(in: text), at: .body)
        }
        if let reason = tally.reason { throw GuardFailure(reason) }
    }

    // MARK: Address fields

    private func checkAddressFields(_ fields: [HeaderField]) throws(GuardFailure) {
        let forbidden = ["cc", "bcc", "resent-to", "resent-cc", "resent-bcc", "apparently-to"]
        if let extra = fields.first(where: { forbidden.contains($0.lowercasedName) }) {
            throw GuardFailure("the message has a \(extra.displayName) header; only To may name a recipient")
        }
        let fromCount = fields.count { $0.lowercasedName == "from" }
        guard fromCount == 1 else {
            throw GuardFailure("the message has \(fromCount) From headers; exactly one is required")
        }
        let toFields = fields.filter { $0.lowercasedName == "to" }
        guard toFields.count == 1, let to = toFields.first else {
            throw GuardFailure("the message has \(toFields.count) To headers; exactly one is required")
        }
        try checkTo(to)
    }

    /// The To field must be one mailbox, and that mailbox the recipient.
    private func checkTo(_ field: HeaderField) throws(GuardFailure) {
        let value = try field.decodedValue()
        let tokens = AddressScanner.tokens(in: value)
        guard tokens.count <= 1 else {
            throw GuardFailure("the To header contains \(tokens.count) addresses; exactly one is allowed")
        }
        // Mailbox refuses lists, groups and trailing text, so "one token" cannot hide a
        // second, unscannable recipient.
        guard let mailbox = try? Mailbox(field.value), tokens.count == 1 else {
            throw GuardFailure("the To header is not a single address")
        }
        guard mailbox.address == recipient else {
            throw GuardFailure("the To header's address is not the recipient")
        }
    }

    // MARK: Address scanning

    /// Distinct keys of addresses in `text` that are neither the recipient nor allowed.
    private func foreignAddresses(in text: String) -> Set<String> {
        var foreign = Set<String>()
        for token in AddressScanner.tokens(in: text) where !isPermitted(token) {
            foreign.insert(token.key)
        }
        return foreign
    }

    private func isPermitted(_ token: AddressToken) -> Bool {
        // An all-ASCII reading's key is its lower-cased text (AddressToken.key(of:)), so
        // it needs no parse: a pasted address file is thousands of such tokens.
        if token.readings.contains(where: { AddressToken.isASCII($0) && permittedKeys.contains($0.lowercased()) }) {
            return true
        }
        let wideReadings = token.readings.filter { !AddressToken.isASCII($0) }
        // Any permitted reading will do, so the cheap spelling check goes over all of
        // them before any is parsed.
        let hasPermittedSpelling = wideReadings.contains { reading in
            permittedSpellings.contains { $0.elementsEqual(reading.utf8) }
        }
        if hasPermittedSpelling { return true }
        return wideReadings.contains { reading in
            guard let address = try? EmailAddress(reading) else { return false }
            return permittedKeys.contains(address.identityKey)
        }
    }
}

// MARK: - Failure and tally

private struct GuardFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Counts foreign addresses per place, so the reason says where without saying what.
private struct ForeignAddressTally {
    enum Place: Hashable {
        case header(String)
        case body

        var phrase: String {
            switch self {
            case .header(let name): "the \(name) header"
            case .body: "the body"
            }
        }
    }

    private var places: [Place] = []
    private var found: [Place: Set<String>] = [:]

    mutating func add(_ keys: Set<String>, at place: Place) {
        guard !keys.isEmpty else { return }
        if found[place] == nil { places.append(place) }
        found[place, default: []].formUnion(keys)
    }

    var reason: String? {
        guard !places.isEmpty else { return nil }
        return places.map { place in
            let count = found[place]?.count ?? 0
            let noun = count == 1 ? "address" : "addresses"
            return "\(place.phrase) contains \(count) \(noun) other than the recipient and the list's own"
        }.joined(separator: "; ")
    }
}

// MARK: - Line structure

private enum LineRules {
    /// CRLF only, and no line over 998 octets, anywhere in the message (RFC 5322 §2.1.1,
    /// §2.3): a lone CR or LF is read as a line break by some software and not by other,
    /// which is exactly how hidden headers get in.
    static func check(_ raw: [UInt8]) throws(GuardFailure) {
        guard !raw.isEmpty else { throw GuardFailure("the message is empty") }
        var lineLength = 0
        var afterCR = false
        for byte in raw {
            if afterCR {
                guard byte == 0x0A else { throw GuardFailure("the message contains a bare CR") }
                afterCR = false
                lineLength = 0
                continue
            }
            switch byte {
            case 0x0D:
                afterCR = true
            case 0x0A:
                throw GuardFailure("the message contains a bare LF")
            default:
                lineLength += 1
                guard lineLength <= ContentTransferEncoding.maximumLineLength else {
                    throw GuardFailure("the message has a line longer than 998 octets")
                }
            }
        }
        guard !afterCR else { throw GuardFailure("the message contains a bare CR") }
    }
}

// MARK: - Entities

private struct HeaderField {
    let name: String
    /// `name.lowercased()`, worked out once: every lookup compares it.
    let lowercasedName: String
    /// Unfolded (CRLFs removed), leading and trailing blanks trimmed.
    let value: String

    init(name: String, value: String) {
        self.name = name
        lowercasedName = name.lowercased()
        self.value = value
    }

    /// The name as written when it is letters, digits and hyphens (it then cannot hold
    /// an address), otherwise a neutral word, so a reason never repeats arbitrary text.
    var displayName: String {
        let isPlain = name.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-": true
            default: false
            }
        }
        return isPlain ? name : "unnamed"
    }

    func decodedValue() throws(GuardFailure) -> String {
        // Without "=?" nothing in the value has the shape of an encoded-word, and decoding
        // would return it unchanged. Most fields (Date, To, Content-Type...) are like that.
        guard Self.containsEncodedWordStart(value) else { return value }
        guard let decoded = EncodedWord.decodeHeaderValue(value) else {
            throw GuardFailure("the \(displayName) header has an encoded-word that does not decode")
        }
        return decoded
    }

    private static func containsEncodedWordStart(_ value: String) -> Bool {
        var previous: UInt8 = 0
        for byte in value.utf8 {
            if previous == UInt8(ascii: "="), byte == UInt8(ascii: "?") { return true }
            previous = byte
        }
        return false
    }
}

/// A message or body part: its header fields and its raw body.
///
/// Entities are only parsed from octets that passed LineRules (the message, and parts cut
/// out of it at line breaks), where every CR is followed by an LF and every LF follows a
/// CR: any CRLF found is a line break, and a run of whole lines is the octets from the
/// first one's start to the last one's end.
private struct RawEntity {
    let fields: [HeaderField]
    /// A slice of the message: parts are not copied out.
    let body: ArraySlice<UInt8>

    /// Splits at the first empty line. A part may have no fields (it then starts with the
    /// empty line); a message must have some, and both must have the empty line.
    static func parse(_ bytes: ArraySlice<UInt8>, isMessage: Bool) throws(GuardFailure) -> RawEntity {
        guard let blank = firstEmptyLine(in: bytes) else {
            throw GuardFailure(isMessage
                ? "the message has no empty line between header and body"
                : "a body part has no empty line after its headers")
        }
        if isMessage, blank.headerLines.isEmpty { throw GuardFailure("the message has no header fields") }
        let fields = try parseFields(blank.headerLines.map { bytes[$0] })
        return RawEntity(fields: fields, body: bytes[blank.bodyStart...])
    }

    /// The lines before the first empty line, and where the line after it starts. The
    /// last line is what follows the final CRLF, so an empty one there is no separator:
    /// the empty line is either a CRLF at the very start or the second half of a CRLFCRLF.
    private static func firstEmptyLine(in bytes: ArraySlice<UInt8>) -> (headerLines: [Range<Int>], bodyStart: Int)? {
        let start = bytes.startIndex
        if bytes.starts(with: [0x0D, 0x0A]) { return ([], start + 2) }
        var index = start
        while index + 3 < bytes.endIndex {
            if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A {
                return (lineRanges(in: bytes[start..<index]), index + 4)
            }
            index += 1
        }
        return nil
    }

    private static func parseFields(_ lines: [ArraySlice<UInt8>]) throws(GuardFailure) -> [HeaderField] {
        var fields: [(name: String, value: String)] = []
        for line in lines {
            guard let text = String(validating: line, as: UTF8.self) else {
                throw GuardFailure("a header line is not valid UTF-8")
            }
            guard !text.unicodeScalars.contains(where: { $0 != "\t" && HeaderValue.isUnsafe($0) }) else {
                throw GuardFailure("a header line contains a control character")
            }
            if text.first == " " || text.first == "\t" {
                guard !fields.isEmpty else { throw GuardFailure("the header section starts with a continuation line") }
                fields[fields.count - 1].value += text
                continue
            }
            fields.append(try splitField(text))
        }
        return fields.map { field in
            HeaderField(name: field.name, value: trimmingBlanks(field.value))
        }
    }

    private static func splitField(_ line: String) throws(GuardFailure) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: ":") else {
            throw GuardFailure("a header line has no colon")
        }
        let name = line[..<colon]
        let isValidName = !name.isEmpty && name.unicodeScalars.allSatisfy { (0x21...0x7E).contains($0.value) }
        guard isValidName else { throw GuardFailure("a header line has an invalid field name") }
        return (String(name), String(line[line.index(after: colon)...]))
    }

    func field(_ lowercasedName: String) throws(GuardFailure) -> HeaderField? {
        let matching = fields.filter { $0.lowercasedName == lowercasedName }
        guard matching.count <= 1 else {
            throw GuardFailure("an entity has \(matching.count) \(matching[0].displayName) headers")
        }
        return matching.first
    }
}

/// The lines of `bytes` as index ranges, split on CRLF pairs only; n pairs give n + 1
/// lines, as CRLFLines.split does, but without slicing (and retaining) the array per line.
private func lineRanges(in bytes: ArraySlice<UInt8>) -> [Range<Int>] {
    var lines: [Range<Int>] = []
    var start = bytes.startIndex
    var index = bytes.startIndex
    var afterCR = false
    for byte in bytes {
        // An LF right after a CR ends a line; it cannot be the LF of an earlier pair,
        // because a pair's LF is no CR.
        if afterCR, byte == 0x0A {
            lines.append(start..<(index - 1))
            start = index + 1
        }
        afterCR = byte == 0x0D
        index += 1
    }
    lines.append(start..<bytes.endIndex)
    return lines
}

/// Walks the MIME tree and returns every piece of text a reader could see, decoded.
private enum BodyReader {
    /// Deeper nesting than this is not something listgate writes; refuse, don't recurse.
    static let maximumDepth = 8

    static func collectTexts(of entity: RawEntity, depth: Int, into texts: inout [String]) throws(GuardFailure) {
        let contentType = try ContentType(entity.field("content-type")?.value ?? "text/plain")
        let encoding = try entity.field("content-transfer-encoding")?.value.lowercased() ?? "7bit"
        if contentType.type == "multipart" {
            guard depth < maximumDepth else { throw GuardFailure("the MIME structure is nested too deeply") }
            guard ["7bit", "8bit", "binary"].contains(encoding) else {
                throw GuardFailure("a multipart entity has a transfer encoding other than 7bit, 8bit or binary")
            }
            try collectMultipart(entity, contentType: contentType, depth: depth, into: &texts)
        } else {
            texts.append(try decodedText(entity.body, encoding: encoding))
        }
    }

    /// The body as a client shows it: transfer-decoded, then read as UTF-8.
    private static func decodedText(_ body: ArraySlice<UInt8>, encoding: String) throws(GuardFailure) -> String {
        switch encoding {
        case "7bit", "8bit", "binary":
            return String(decoding: body, as: UTF8.self)
        case "quoted-printable":
            guard let decoded = QuotedPrintable.decode(Array(body)) else {
                throw GuardFailure("a quoted-printable part does not decode")
            }
            return String(decoding: decoded, as: UTF8.self)
        case "base64":
            guard let decoded = MIMEBase64.decode(Array(body)) else {
                throw GuardFailure("a base64 part does not decode")
            }
            return String(decoding: decoded, as: UTF8.self)
        default:
            throw GuardFailure("a part has an unknown transfer encoding")
        }
    }

    private static func collectMultipart(
        _ entity: RawEntity, contentType: ContentType, depth: Int, into texts: inout [String]
    ) throws(GuardFailure) {
        guard let boundary = contentType.parameters["boundary"], (1...70).contains(boundary.utf8.count) else {
            throw GuardFailure("a multipart entity has no usable boundary")
        }
        let delimiter = Array(("--" + boundary).utf8)
        let body = entity.body
        let lines = lineRanges(in: body)
        // Chunks are runs of line numbers: the preamble, each part, then (from the line
        // after the close delimiter to the end) the epilogue.
        var chunks: [Range<Int>] = []
        var chunkStart = 0
        var closed = false
        for (number, line) in lines.enumerated() {
            guard let kind = delimiterKind(body[line], delimiter) else { continue }
            chunks.append(chunkStart..<number)
            chunkStart = number + 1
            if kind == .close {
                closed = true
                break
            }
        }
        guard closed else { throw GuardFailure("a multipart entity has no closing boundary") }
        chunks.append(chunkStart..<lines.count)
        guard chunks.count >= 3 else { throw GuardFailure("a multipart entity has no parts") }

        /// The chunk's lines with the CRLFs between them (none after the last).
        func octets(_ chunk: Range<Int>) -> ArraySlice<UInt8> {
            guard let first = chunk.first, let last = chunk.last else { return body[body.startIndex..<body.startIndex] }
            return body[lines[first].lowerBound..<lines[last].upperBound]
        }

        // Preamble and epilogue are not meant to be shown, but some clients do.
        for outside in [chunks[0], chunks[chunks.count - 1]] {
            texts.append(String(decoding: octets(outside), as: UTF8.self))
        }
        for part in chunks[1..<(chunks.count - 1)] {
            let child = try RawEntity.parse(octets(part), isMessage: false)
            for field in child.fields {
                texts.append(try field.decodedValue())
            }
            try collectTexts(of: child, depth: depth + 1, into: &texts)
        }
    }

    private enum DelimiterKind { case next, close }

    /// RFC 2046 §5.1.1: "--boundary" or "--boundary--", optionally followed by blanks.
    private static func delimiterKind(_ line: ArraySlice<UInt8>, _ delimiter: [UInt8]) -> DelimiterKind? {
        guard line.starts(with: delimiter) else { return nil }
        var rest = line.dropFirst(delimiter.count)
        var kind = DelimiterKind.next
        if rest.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) {
            kind = .close
            rest = rest.dropFirst(2)
        }
        return rest.allSatisfy { $0 == 0x20 || $0 == 0x09 } ? kind : nil
    }
}

/// `type/subtype; name=value; name="quoted value"` (RFC 2045 §5.1), without comments.
private struct ContentType {
    let type: String
    let parameters: [String: String]

    init(_ value: String) throws(GuardFailure) {
        let pieces = Self.splitOutsideQuotes(value)
        let mediaType = trimmingBlanks(pieces[0]).lowercased()
        let halves = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else {
            throw GuardFailure("a Content-Type header does not parse")
        }
        type = String(halves[0])
        var parameters: [String: String] = [:]
        for piece in pieces.dropFirst() {
            let trimmed = trimmingBlanks(piece)
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw GuardFailure("a Content-Type parameter does not parse")
            }
            let name = trimmingBlanks(trimmed[..<equals]).lowercased()
            guard parameters[name] == nil else { throw GuardFailure("a Content-Type parameter is repeated") }
            parameters[name] = try Self.unquoted(trimmingBlanks(trimmed[trimmed.index(after: equals)...]))
        }
        self.parameters = parameters
    }

    /// The pieces between the semicolons that are outside quoted strings.
    private static func splitOutsideQuotes(_ value: String) -> [Substring] {
        var pieces: [Substring] = []
        var pieceStart = value.startIndex
        var quoted = false
        var escaped = false
        for index in value.indices {
            let character = value[index]
            if escaped {
                escaped = false
            } else if quoted, character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";", !quoted {
                pieces.append(value[pieceStart..<index])
                pieceStart = value.index(after: index)
            }
        }
        pieces.append(value[pieceStart...])
        return pieces
    }

    private static func unquoted(_ value: String) throws(GuardFailure) -> String {
        guard value.first == "\"" else { return value }
        guard value.count >= 2, value.last == "\"" else {
            throw GuardFailure("a Content-Type parameter has an unterminated quote")
        }
        let content = value.dropFirst().dropLast()
        // Without a backslash there is nothing to unescape.
        guard content.utf8.contains(UInt8(ascii: "\\")) else { return String(content) }
        var result = ""
        var escaped = false
        for character in content {
            if escaped || character != "\\" {
                result.append(character)
                escaped = false
            } else {
                escaped = true
            }
        }
        return result
    }
}

/// Drops spaces and tabs at both ends (not other white space: U+3000 is text).
private func trimmingBlanks(_ text: some StringProtocol) -> String {
    // A blank is one UTF-8 octet that occurs inside no other scalar, so trimming octets
    // trims scalars.
    let utf8 = String(text).utf8
    let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
    guard let first = utf8.firstIndex(where: { !isBlank($0) }),
          let last = utf8.lastIndex(where: { !isBlank($0) }) else { return "" }
    return String(decoding: utf8[first...last], as: UTF8.self)
}

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
        // "@" is a single octet that occurs inside no other scalar's UTF-8.
        let bytes = Deobfuscation.apply(Array(text.utf8))
        var tokens: [AddressToken] = []
        for index in bytes.indices where bytes[index] == UInt8(ascii: "@") {
            if let token = token(around: index, in: bytes) { tokens.append(token) }
        }
        return tokens
    }

    /// A local part always ends at the "@" (or at the backslash before it), and a domain
    /// always starts just after it.
    private static func token(around at: Int, in bytes: [UInt8]) -> AddressToken? {
        // `evil\@attacker.test` is evil@attacker.test to a reader, and `"evil\@attacker.test"`
        // is how a quoted local part hides it: the backslash is stepped over, not taken
        // for the start of the local part.
        let localEnd = at > 0 && bytes[at - 1] == UInt8(ascii: "\\") ? at - 1 : at
        let localStart = localPartStart(before: localEnd, in: bytes)
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
    private static func localPartStart(before at: Int, in bytes: [UInt8]) -> Int {
        if at > 0, bytes[at - 1] == UInt8(ascii: "\"") {
            // Back from the scalar before the closing quote, at most 130 scalars from "@".
            var index = at - 1
            var distance = 1
            while index > 0 {
                index = UTF8Scalars.start(before: index, in: bytes)
                distance += 1
                guard distance <= 130 else { break }
                if bytes[index] == UInt8(ascii: "\""), index == 0 || bytes[index - 1] != UInt8(ascii: "\\") { return index }
                if bytes[index] == 0x0D || bytes[index] == 0x0A { break }
            }
        }
        var start = at
        while start > 0 {
            let previous = UTF8Scalars.start(before: start, in: bytes)
            guard isLocalPartScalar(UTF8Scalars.scalar(at: previous, in: bytes).scalar) else { break }
            start = previous
        }
        return start
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
