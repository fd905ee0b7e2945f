// The last check before a message leaves: it re-reads the rendered octets the way a mail
// client would and refuses anything that could show one person another person's address
// (a pasted address file, a second To, a Cc). It trusts nothing the renderer meant to do,
// only what the bytes say, and it fails closed: whatever it cannot parse or decode fails.
//
// Failure reasons go to logs and the CLI, so they name the kind of problem, where, and
// how many, and never the foreign addresses themselves.

import ListgateCore

public enum GuardVerdict: Equatable, Sendable {
    case pass
    case fail(reason: String)
}

public struct ContentGuard: Sendable {
    private let recipient: EmailAddress
    /// identityKeys of the recipient and of every allowed address.
    private let permittedKeys: Set<String>

    /// recipient: the one person; allowed: the list's From, Reply-To and --allow-address entries.
    public init(recipient: EmailAddress, allowed: [EmailAddress]) {
        self.recipient = recipient
        permittedKeys = Set([recipient.identityKey] + allowed.map(\.identityKey))
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
        let message = try RawEntity.parse(raw, isMessage: true)
        // The whole structure is decoded before any verdict on content, so every
        // message, however wrong its To, goes through the same parser.
        var bodyTexts: [String] = []
        try BodyReader.collectTexts(of: message, depth: 0, into: &bodyTexts)
        try checkAddressFields(message.fields)

        var tally = ForeignAddressTally()
        for field in message.fields where !AddressScanner.isMessageIDField(field.name) {
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
        token.readings.contains { reading in
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
        var index = 0
        while index < raw.count {
            switch raw[index] {
            case 0x0D:
                guard index + 1 < raw.count, raw[index + 1] == 0x0A else {
                    throw GuardFailure("the message contains a bare CR")
                }
                lineLength = 0
                index += 2
                continue
            case 0x0A:
                throw GuardFailure("the message contains a bare LF")
            default:
                lineLength += 1
                guard lineLength <= ContentTransferEncoding.maximumLineLength else {
                    throw GuardFailure("the message has a line longer than 998 octets")
                }
            }
            index += 1
        }
    }
}

// MARK: - Entities

private struct HeaderField {
    let name: String
    /// Unfolded (CRLFs removed), leading and trailing blanks trimmed.
    let value: String

    var lowercasedName: String { name.lowercased() }

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
        guard let decoded = EncodedWord.decodeHeaderValue(value) else {
            throw GuardFailure("the \(displayName) header has an encoded-word that does not decode")
        }
        return decoded
    }
}

/// A message or body part: its header fields and its raw body.
private struct RawEntity {
    let fields: [HeaderField]
    let body: [UInt8]

    /// Splits at the first empty line. A part may have no fields (it then starts with the
    /// empty line); a message must have some, and both must have the empty line.
    static func parse(_ bytes: [UInt8], isMessage: Bool) throws(GuardFailure) -> RawEntity {
        let lines = CRLFLines.split(bytes)
        // The last line is what follows the final CRLF, so an empty one there is no separator.
        guard let blank = lines.dropLast().firstIndex(where: \.isEmpty) else {
            throw GuardFailure(isMessage
                ? "the message has no empty line between header and body"
                : "a body part has no empty line after its headers")
        }
        if isMessage, blank == 0 { throw GuardFailure("the message has no header fields") }
        let fields = try parseFields(lines[..<blank])
        let bodyLines = lines[(blank + 1)...]
        let body = Array(bodyLines.map(Array.init).joined(separator: [0x0D, 0x0A]))
        return RawEntity(fields: fields, body: body)
    }

    private static func parseFields(_ lines: ArraySlice<ArraySlice<UInt8>>) throws(GuardFailure) -> [HeaderField] {
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
            texts.append(String(decoding: try decode(entity.body, encoding: encoding), as: UTF8.self))
        }
    }

    private static func decode(_ body: [UInt8], encoding: String) throws(GuardFailure) -> [UInt8] {
        switch encoding {
        case "7bit", "8bit", "binary":
            return body
        case "quoted-printable":
            guard let decoded = QuotedPrintable.decode(body) else {
                throw GuardFailure("a quoted-printable part does not decode")
            }
            return decoded
        case "base64":
            guard let decoded = MIMEBase64.decode(body) else {
                throw GuardFailure("a base64 part does not decode")
            }
            return decoded
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
        var chunks: [[ArraySlice<UInt8>]] = [[]]
        var closed = false
        for line in CRLFLines.split(entity.body) {
            if closed {
                chunks[chunks.count - 1].append(line)
            } else if let kind = delimiterKind(line, delimiter) {
                if kind == .close { closed = true }
                chunks.append([])
            } else {
                chunks[chunks.count - 1].append(line)
            }
        }
        guard closed else { throw GuardFailure("a multipart entity has no closing boundary") }
        guard chunks.count >= 3 else { throw GuardFailure("a multipart entity has no parts") }
        // Preamble and epilogue are not meant to be shown, but some clients do.
        for outside in [chunks[0], chunks[chunks.count - 1]] {
            texts.append(String(decoding: joinLines(outside), as: UTF8.self))
        }
        for part in chunks[1..<(chunks.count - 1)] {
            let child = try RawEntity.parse(joinLines(part), isMessage: false)
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

    private static func joinLines(_ lines: [ArraySlice<UInt8>]) -> [UInt8] {
        Array(lines.map(Array.init).joined(separator: [0x0D, 0x0A]))
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

    private static func splitOutsideQuotes(_ value: String) -> [String] {
        var pieces = [""]
        var quoted = false
        var escaped = false
        for character in value {
            if escaped {
                escaped = false
            } else if quoted, character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";", !quoted {
                pieces.append("")
                continue
            }
            pieces[pieces.count - 1].append(character)
        }
        return pieces
    }

    private static func unquoted(_ value: String) throws(GuardFailure) -> String {
        guard value.first == "\"" else { return value }
        guard value.count >= 2, value.last == "\"" else {
            throw GuardFailure("a Content-Type parameter has an unterminated quote")
        }
        var result = ""
        var escaped = false
        for character in value.dropFirst().dropLast() {
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
    let scalars = Array(String(text).unicodeScalars)
    guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
          let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
    var view = String.UnicodeScalarView()
    view.append(contentsOf: scalars[first...last])
    return String(view)
}

// MARK: - Address tokens

/// Something in a text that looks like an address, with the readings under which it
/// could be the recipient or an allowed address.
private struct AddressToken {
    /// The whole run around the "@", as a conservative reader sees it.
    let text: String
    /// `text`, and `text` without Japanese (non-ASCII) prose glued to either end:
    /// "お問い合わせはinfo@example.jpまで" is info@example.jp to a human reader.
    let readings: [String]

    /// Identity key when it parses, else the lower-cased text: one address counts once.
    var key: String {
        (try? EmailAddress(text))?.identityKey ?? text.lowercased()
    }
}

private enum AddressScanner {
    /// Fields holding msg-ids, whose "@domain" is not an address.
    static func isMessageIDField(_ name: String) -> Bool {
        ["message-id", "in-reply-to", "references"].contains(name.lowercased())
    }

    /// Every address-looking token in `text`, after undoing the obfuscations that make
    /// an address readable to people but not to a naive scanner.
    static func tokens(in text: String) -> [AddressToken] {
        let scalars = Array(Deobfuscation.apply(text).unicodeScalars)
        var tokens: [AddressToken] = []
        for index in scalars.indices where scalars[index] == "@" {
            if let token = token(around: index, in: scalars) { tokens.append(token) }
        }
        return tokens
    }

    private static func token(around at: Int, in scalars: [Unicode.Scalar]) -> AddressToken? {
        let localStart = localPartStart(before: at, in: scalars)
        guard localStart < at else { return nil }
        var domainEnd = at + 1
        while domainEnd < scalars.count, isDomainScalar(scalars[domainEnd]) { domainEnd += 1 }
        let local = Array(scalars[localStart..<at])
        let domain = trimTrailingSeparators(Array(scalars[(at + 1)..<domainEnd]))
        guard hasInnerSeparator(domain) else { return nil }

        var locals = [local]
        let asciiLocal = Array(local.drop { !$0.isASCII })
        if !asciiLocal.isEmpty, asciiLocal.count < local.count { locals.append(asciiLocal) }
        var domains = [domain]
        let proseFree = trimTrailingSeparators(Array(domain.reversed().drop { !$0.isASCII }.reversed()))
        if hasInnerSeparator(proseFree), proseFree.count < domain.count { domains.append(proseFree) }

        let readings = locals.flatMap { local in domains.map { string(local + ["@"] + $0) } }
        return AddressToken(text: readings[0], readings: readings)
    }

    /// Start of the local part: a quoted string ending just before "@", or the run of
    /// atext, dots and non-ASCII letters and digits (RFC 6531 local parts).
    private static func localPartStart(before at: Int, in scalars: [Unicode.Scalar]) -> Int {
        if at > 0, scalars[at - 1] == "\"" {
            var index = at - 2
            while index >= 0, at - index <= 130 {
                if scalars[index] == "\"", index == 0 || scalars[index - 1] != "\\" { return index }
                if scalars[index] == "\r" || scalars[index] == "\n" { break }
                index -= 1
            }
        }
        var start = at
        while start > 0, isLocalPartScalar(scalars[start - 1]) { start -= 1 }
        return start
    }

    private static func isLocalPartScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".": return true
            default: return "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
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

    /// A sentence's full stop after an address is not part of its domain.
    private static func trimTrailingSeparators(_ domain: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var domain = domain
        while let last = domain.last, isLabelSeparator(last) || last == "-" { domain.removeLast() }
        return domain
    }

    /// At least two labels: a separator with something before it.
    private static func hasInnerSeparator(_ domain: [Unicode.Scalar]) -> Bool {
        guard let separator = domain.firstIndex(where: isLabelSeparator) else { return false }
        return separator > 0 && separator < domain.count - 1
    }

    private static func string(_ scalars: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}

/// Undoes the ways an "@" is commonly disguised in text and HTML: full-width and small
/// commercial at, HTML character references, and URL percent-encoding.
private enum Deobfuscation {
    static func apply(_ text: String) -> String {
        // Each pass runs only when its trigger is present: most mail has no `&`, `%`
        // or wide at sign, and this runs on every message before it is sent.
        var result = text
        if result.unicodeScalars.contains(where: { $0 == "\u{FF20}" || $0 == "\u{FE6B}" }) {
            var widened = String.UnicodeScalarView()
            for scalar in result.unicodeScalars {
                widened.append(scalar == "\u{FF20}" || scalar == "\u{FE6B}" ? "@" : scalar)
            }
            result = String(widened)
        }
        if result.utf8.contains(UInt8(ascii: "&")) { result = characterReferencesDecoded(result) }
        if result.utf8.contains(UInt8(ascii: "%")) { result = percentDecoded(result) }
        return result
    }

    private static let namedReferences: [String: Unicode.Scalar] = [
        "commat": "@", "period": ".", "amp": "&", "lt": "<", "gt": ">", "quot": "\"",
        "apos": "'", "nbsp": " ", "hyphen": "-", "dash": "-", "lowbar": "_", "plus": "+",
    ]

    /// `&#64;`, `&#x40;`, `&commat;` and friends. Numeric references are decoded even
    /// without the ";" because browsers do the same.
    private static func characterReferencesDecoded(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "&", let (scalar, length) = reference(in: scalars, at: index) {
                output.append(scalar)
                index += length
            } else {
                output.append(scalars[index])
                index += 1
            }
        }
        return String(output)
    }

    private static func reference(in scalars: [Unicode.Scalar], at start: Int) -> (Unicode.Scalar, Int)? {
        var index = start + 1
        guard index < scalars.count else { return nil }
        if scalars[index] == "#" {
            index += 1
            let isHex = index < scalars.count && (scalars[index] == "x" || scalars[index] == "X")
            if isHex { index += 1 }
            let digitsStart = index
            var value: UInt32 = 0
            while index < scalars.count, index - digitsStart < 7,
                  let digit = digitValue(scalars[index], hex: isHex) {
                value = value * (isHex ? 16 : 10) + digit
                index += 1
            }
            guard index > digitsStart, let scalar = Unicode.Scalar(value) else { return nil }
            if index < scalars.count, scalars[index] == ";" { index += 1 }
            return (scalar, index - start)
        }
        var name = ""
        while index < scalars.count, name.count < 10, scalars[index].properties.isAlphabetic, scalars[index].isASCII {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        guard index < scalars.count, scalars[index] == ";", let scalar = namedReferences[name.lowercased()] else {
            return nil
        }
        return (scalar, index + 1 - start)
    }

    private static func digitValue(_ scalar: Unicode.Scalar, hex: Bool) -> UInt32? {
        guard scalar.isASCII else { return nil }
        if hex { return MIMEHex.value(UInt8(scalar.value)).map(UInt32.init) }
        return ("0"..."9").contains(scalar) ? scalar.value - 48 : nil
    }

    /// `%40` and other printable ASCII escapes; anything else stays as written.
    private static func percentDecoded(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            if scalars[index] == "%", index + 2 < scalars.count,
               scalars[index + 1].isASCII, scalars[index + 2].isASCII,
               let high = MIMEHex.value(UInt8(scalars[index + 1].value)),
               let low = MIMEHex.value(UInt8(scalars[index + 2].value)),
               (0x21...0x7E).contains(high << 4 | low) {
                output.append(Unicode.Scalar(high << 4 | low))
                index += 3
            } else {
                output.append(scalars[index])
                index += 1
            }
        }
        return String(output)
    }
}
