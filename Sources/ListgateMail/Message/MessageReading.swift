// Reads a rendered message the way a mail client would, failing closed: the line rules,
// the header fields, the MIME tree (multipart and attached messages, within limits), the
// transfer encodings and the charsets, down to every piece of text a reader could see.
// The content guard (outbox) and the preflight (before a campaign) both judge what this
// reads, so the two can never disagree about what a message says.
//
// The parsing works on slices of the message's octets: parts are never copied out and
// re-joined.

import ListgateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A message as a client would show it: its header fields, and every piece of body text
/// (decoded) with the place it came from.
struct MessageReading {
    let fields: [HeaderField]
    let texts: [ReadText]
    /// The leaves of the MIME tree in order; images are listed but not scanned.
    let parts: [ReadPart]

    /// Fails on anything a client might read differently, or that cannot be read.
    static func read(_ raw: [UInt8]) throws(GuardFailure) -> MessageReading {
        try LineRules.check(raw)
        let message = try RawEntity.parse(raw[...], isMessage: true)
        var walk = BodyReader.Walk(decoders: CharsetDecoders())
        try BodyReader.collect(of: message, depth: 0, headerTexts: [], into: &walk)
        return MessageReading(fields: message.fields, texts: walk.texts, parts: walk.parts)
    }
}

/// Where in the body a text was read.
enum BodyPlace: Hashable {
    /// A leaf of the MIME tree, numbered from 1; its own header fields count as its text.
    case part(index: Int, mediaType: String)
    /// Preambles, epilogues and the header fields of multipart entities and attached messages.
    case structure
}

struct ReadText {
    let place: BodyPlace
    let text: String
}

struct ReadPart: Equatable {
    let index: Int
    let mediaType: String
    /// False for an image: transfer-decoded, so it is well formed, but not read for text.
    let isScanned: Bool
}

/// Why a message cannot be judged, said without repeating anything the message says.
struct GuardFailure: Error, Equatable {
    /// not_a_message, header_not_utf8, header_control, bare_line_break, line_too_long,
    /// mime_unreadable or unreadable_part.
    let code: String
    let reason: String

    init(_ reason: String, code: String = "mime_unreadable") {
        self.code = code
        self.reason = reason
    }
}

// MARK: - Line structure

enum LineRules {
    /// CRLF only, and no line over 998 octets, anywhere in the message (RFC 5322 §2.1.1,
    /// §2.3): a lone CR or LF is read as a line break by some software and not by other,
    /// which is exactly how hidden headers get in.
    static func check(_ raw: [UInt8]) throws(GuardFailure) {
        guard !raw.isEmpty else { throw GuardFailure("the message is empty", code: "not_a_message") }
        var lineLength = 0
        var afterCR = false
        for byte in raw {
            if afterCR {
                guard byte == 0x0A else { throw GuardFailure("the message contains a bare CR", code: "bare_line_break") }
                afterCR = false
                lineLength = 0
                continue
            }
            switch byte {
            case 0x0D:
                afterCR = true
            case 0x0A:
                throw GuardFailure("the message contains a bare LF", code: "bare_line_break")
            default:
                lineLength += 1
                guard lineLength <= ContentTransferEncoding.maximumLineLength else {
                    throw GuardFailure("the message has a line longer than 998 octets", code: "line_too_long")
                }
            }
        }
        guard !afterCR else { throw GuardFailure("the message contains a bare CR", code: "bare_line_break") }
    }
}

// MARK: - Entities

struct HeaderField {
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

    func decodedValue(decoders: CharsetDecoders = CharsetDecoders()) throws(GuardFailure) -> String {
        // Without "=?" nothing in the value has the shape of an encoded-word, and decoding
        // would return it unchanged. Most fields (Date, To, Content-Type...) are like that.
        guard Self.containsEncodedWordStart(value) else { return value }
        guard let decoded = EncodedWord.decodeHeaderValue(value, decoders: decoders) else {
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
struct RawEntity {
    let fields: [HeaderField]
    /// A slice of the message: parts are not copied out.
    let body: ArraySlice<UInt8>

    /// More than listgate, or any mailer, writes; the limits bound the work on hostile input.
    static let maximumFields = 1_000
    static let maximumHeaderOctets = 1 << 20

    /// Splits at the first empty line. A part may have no fields (it then starts with the
    /// empty line); a message must have some, and both must have the empty line.
    static func parse(_ bytes: ArraySlice<UInt8>, isMessage: Bool) throws(GuardFailure) -> RawEntity {
        guard let blank = firstEmptyLine(in: bytes) else {
            throw GuardFailure(isMessage
                ? "the message has no empty line between header and body"
                : "a body part has no empty line after its headers", code: isMessage ? "not_a_message" : "mime_unreadable")
        }
        if isMessage, blank.headerEnd == bytes.startIndex {
            throw GuardFailure("the message has no header fields", code: "not_a_message")
        }
        // Before the lines are listed: a header section of millions of lines costs nothing.
        guard blank.bodyStart - bytes.startIndex <= maximumHeaderOctets else {
            throw GuardFailure("a header section is larger than 1 MiB")
        }
        let headerLines = blank.headerEnd == bytes.startIndex ? [] : lineRanges(in: bytes[bytes.startIndex..<blank.headerEnd])
        let fields = try parseFields(headerLines.map { bytes[$0] })
        guard fields.count <= maximumFields else {
            throw GuardFailure("a header section has more than 1,000 fields")
        }
        return RawEntity(fields: fields, body: bytes[blank.bodyStart...])
    }

    /// Where the header lines end (before their last CRLF; the start when there are
    /// none) and where the line after the empty line starts. The last line is what follows
    /// the final CRLF, so an empty one there is no separator: the empty line is either a
    /// CRLF at the very start or the second half of a CRLFCRLF.
    private static func firstEmptyLine(in bytes: ArraySlice<UInt8>) -> (headerEnd: Int, bodyStart: Int)? {
        let start = bytes.startIndex
        if bytes.starts(with: [0x0D, 0x0A]) { return (start, start + 2) }
        var index = start
        while index + 3 < bytes.endIndex {
            if bytes[index] == 0x0D, bytes[index + 1] == 0x0A, bytes[index + 2] == 0x0D, bytes[index + 3] == 0x0A {
                return (index, index + 4)
            }
            index += 1
        }
        return nil
    }

    private static func parseFields(_ lines: [ArraySlice<UInt8>]) throws(GuardFailure) -> [HeaderField] {
        var fields: [(name: String, value: String)] = []
        for line in lines {
            guard let text = String(validating: line, as: UTF8.self) else {
                throw GuardFailure("a header line is not valid UTF-8", code: "header_not_utf8")
            }
            guard !text.unicodeScalars.contains(where: { $0 != "\t" && HeaderValue.isUnsafe($0) }) else {
                throw GuardFailure("a header line contains a control character", code: "header_control")
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
func lineRanges(in bytes: ArraySlice<UInt8>) -> [Range<Int>] {
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
enum BodyReader {
    /// Deeper nesting than this is not something listgate writes; refuse, don't recurse.
    /// Attached messages count as a level, as multipart entities do.
    static let maximumDepth = 8
    /// Entities below the message, over the whole tree.
    static let maximumParts = 1_000

    struct Walk {
        /// The message's iconv converters, for its bodies and encoded-words alike.
        let decoders: CharsetDecoders
        var texts: [ReadText] = []
        var parts: [ReadPart] = []
        var entities = 0

        mutating func count(_ more: Int) throws(GuardFailure) {
            entities += more
            guard entities <= maximumParts else {
                throw GuardFailure("the MIME structure has more than 1,000 parts")
            }
        }
    }

    /// `headerTexts`: the entity's own header fields, decoded; they are read as text of
    /// the part they head (of the structure, for a multipart entity or attached message).
    static func collect(
        of entity: RawEntity, depth: Int, headerTexts: [String], into walk: inout Walk
    ) throws(GuardFailure) {
        let contentType = try ContentType(entity.field("content-type")?.value ?? "text/plain")
        let encoding = try entity.field("content-transfer-encoding")?.value.lowercased() ?? "7bit"
        let isIdentity = ["7bit", "8bit", "binary"].contains(encoding)
        if contentType.type == "multipart" {
            guard depth < maximumDepth else { throw GuardFailure("the MIME structure is nested too deeply") }
            guard isIdentity else {
                throw GuardFailure("a multipart entity has a transfer encoding other than 7bit, 8bit or binary")
            }
            walk.texts += headerTexts.map { ReadText(place: .structure, text: $0) }
            try collectMultipart(entity, contentType: contentType, depth: depth, into: &walk)
        } else if contentType.type == "message", ["rfc822", "global"].contains(contentType.subtype) {
            // An attached message is read like the message itself: its header fields and
            // its whole MIME tree. RFC 2046 §5.2.1 allows no other encoding, and one would
            // hide the attached message from this reading.
            guard depth < maximumDepth else { throw GuardFailure("the MIME structure is nested too deeply") }
            guard isIdentity else {
                throw GuardFailure("an attached message has a transfer encoding other than 7bit, 8bit or binary")
            }
            walk.texts += headerTexts.map { ReadText(place: .structure, text: $0) }
            try walk.count(1)
            let attached = try RawEntity.parse(entity.body, isMessage: false)
            var attachedTexts: [String] = []
            for field in attached.fields { attachedTexts.append(try field.decodedValue(decoders: walk.decoders)) }
            walk.texts += attachedTexts.map { ReadText(place: .structure, text: $0) }
            try collect(of: attached, depth: depth + 1, headerTexts: [], into: &walk)
        } else {
            try collectLeaf(entity, contentType: contentType, encoding: encoding, headerTexts: headerTexts, into: &walk)
        }
    }

    private static func collectLeaf(
        _ entity: RawEntity, contentType: ContentType, encoding: String, headerTexts: [String], into walk: inout Walk
    ) throws(GuardFailure) {
        let index = walk.parts.count + 1
        let mediaType = contentType.displayMediaType
        let place = BodyPlace.part(index: index, mediaType: mediaType)
        switch contentType.type {
        case "text":
            let text = try decodedText(
                entity.body, encoding: encoding, charset: contentType.parameters["charset"], decoders: walk.decoders)
            walk.texts += headerTexts.map { ReadText(place: place, text: $0) }
            walk.texts.append(ReadText(place: place, text: text))
            walk.parts.append(ReadPart(index: index, mediaType: mediaType, isScanned: true))
        case "image":
            // Must be well formed, but its octets are no text: read as text they would
            // only give false hits.
            _ = try transferDecoded(entity.body, encoding: encoding)
            walk.texts += headerTexts.map { ReadText(place: place, text: $0) }
            walk.parts.append(ReadPart(index: index, mediaType: mediaType, isScanned: false))
        default:
            // A zip, a spreadsheet or a PDF can carry a whole address file that no scan of
            // its octets would see.
            throw GuardFailure(
                "the body part \(index) (\(mediaType)) cannot be checked; only text and image parts can be",
                code: "unreadable_part")
        }
    }

    /// The body as a client shows it: transfer-decoded, then read in its charset.
    private static func decodedText(
        _ body: ArraySlice<UInt8>, encoding: String, charset: String?, decoders: CharsetDecoders
    ) throws(GuardFailure) -> String {
        let name = charset?.lowercased() ?? "us-ascii"
        switch name {
        case "utf-8", "utf8", "us-ascii":
            // UTF-8 as lenient clients read it: a stray octet becomes U+FFFD and every
            // ASCII character stays visible. Unencoded bodies are not copied out first.
            if ["7bit", "8bit", "binary"].contains(encoding) { return String(decoding: body, as: UTF8.self) }
            return String(decoding: try transferDecoded(body, encoding: encoding), as: UTF8.self)
        default:
            guard let iconvName = MessageCharset.iconvName(name) else {
                throw GuardFailure("a text part has a charset that cannot be read", code: "unreadable_part")
            }
            guard let text = decoders.decode(try transferDecoded(body, encoding: encoding), from: iconvName) else {
                throw GuardFailure("a text part does not decode as \(iconvName)")
            }
            return text
        }
    }

    private static func transferDecoded(_ body: ArraySlice<UInt8>, encoding: String) throws(GuardFailure) -> [UInt8] {
        switch encoding {
        case "7bit", "8bit", "binary":
            return Array(body)
        case "quoted-printable":
            guard let decoded = QuotedPrintable.decode(Array(body)) else {
                throw GuardFailure("a quoted-printable part does not decode")
            }
            return decoded
        case "base64":
            guard let decoded = MIMEBase64.decode(Array(body)) else {
                throw GuardFailure("a base64 part does not decode")
            }
            return decoded
        default:
            throw GuardFailure("a part has an unknown transfer encoding")
        }
    }

    private static func collectMultipart(
        _ entity: RawEntity, contentType: ContentType, depth: Int, into walk: inout Walk
    ) throws(GuardFailure) {
        guard let boundary = contentType.parameters["boundary"], (1...70).contains(boundary.utf8.count) else {
            throw GuardFailure("a multipart entity has no usable boundary")
        }
        let body = entity.body
        let split = DelimitedBody.split(body, delimiter: Array(("--" + boundary).utf8))
        guard split.closed else { throw GuardFailure("a multipart entity has no closing boundary") }
        guard split.partCount > 0 else { throw GuardFailure("a multipart entity has no parts") }
        try walk.count(split.partCount)

        // Preamble and epilogue are not meant to be shown, but some clients do.
        for outside in [split.preamble, split.epilogue] {
            walk.texts.append(ReadText(place: .structure, text: String(decoding: body[outside], as: UTF8.self)))
        }
        for part in split.parts {
            let child = try RawEntity.parse(body[part], isMessage: false)
            var headerTexts: [String] = []
            for field in child.fields {
                headerTexts.append(try field.decodedValue(decoders: walk.decoders))
            }
            try collect(of: child, depth: depth + 1, headerTexts: headerTexts, into: &walk)
        }
    }

    /// A multipart body cut at its delimiter lines, as octet ranges of the body: the
    /// preamble, each part, and the epilogue, each without the CRLF that ends it (the
    /// CRLF before a delimiter belongs to the delimiter, RFC 2046 §5.1.1).
    ///
    /// One pass from line start to line start, keeping only the ranges: a hostile body
    /// of millions of short lines, nested as deep as allowed, costs no memory per line.
    struct DelimitedBody {
        var preamble: Range<Int>
        /// At most `maximumParts + 1`: one more is enough to refuse the message.
        var parts: [Range<Int>] = []
        /// Every part, including those not kept.
        var partCount = 0
        var epilogue: Range<Int>
        var closed = false

        static func split(_ body: ArraySlice<UInt8>, delimiter: [UInt8]) -> DelimitedBody {
            let empty = body.startIndex..<body.startIndex
            var result = DelimitedBody(preamble: empty, epilogue: empty)
            // Where the lines of the current chunk (preamble, part or epilogue) start.
            var chunkStart = body.startIndex
            var seenDelimiter = false
            var lineStart = body.startIndex
            body.withUnsafeBufferPointer { buffer in
                let base = buffer.baseAddress
                func lineEnd(from start: Int) -> Int {
                    // Body octets passed LineRules: every CR is the start of a CRLF.
                    let offset = start - body.startIndex
                    guard let base, offset < buffer.count,
                          let found = memchr(base + offset, 0x0D, buffer.count - offset) else { return body.endIndex }
                    return body.startIndex + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
                }
                while true {
                    let end = lineEnd(from: lineStart)
                    if end - lineStart >= delimiter.count, body[lineStart] == UInt8(ascii: "-"),
                       let kind = delimiterKind(body[lineStart..<end], delimiter) {
                        // The chunk's lines run up to the CRLF before this line; none when
                        // this line starts the chunk.
                        let chunk = chunkStart..<(lineStart == chunkStart ? chunkStart : lineStart - 2)
                        if !seenDelimiter {
                            result.preamble = chunk
                            seenDelimiter = true
                        } else {
                            result.partCount += 1
                            if result.parts.count <= maximumParts { result.parts.append(chunk) }
                        }
                        if kind == .close {
                            result.closed = true
                            result.epilogue = end == body.endIndex ? body.endIndex..<body.endIndex : (end + 2)..<body.endIndex
                            return
                        }
                        chunkStart = end == body.endIndex ? end : end + 2
                    }
                    guard end < body.endIndex else { return }
                    lineStart = end + 2
                }
            }
            return result
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
struct ContentType {
    let type: String
    let subtype: String
    let parameters: [String: String]

    init(_ value: String) throws(GuardFailure) {
        let pieces = Self.splitOutsideQuotes(value)
        let mediaType = trimmingBlanks(pieces[0]).lowercased()
        let halves = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else {
            throw GuardFailure("a Content-Type header does not parse")
        }
        type = String(halves[0])
        subtype = String(halves[1])
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

    /// `type/subtype` when both are RFC 2045 tokens, so that a reason can name it without
    /// repeating arbitrary text (an address, say); otherwise a neutral word.
    var displayMediaType: String {
        let isToken = (type + subtype).unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "0"..."9", "-", ".", "+", "_", "!", "#", "$", "&", "^": true
            default: false
            }
        }
        return isToken ? "\(type)/\(subtype)" : "unknown type"
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
func trimmingBlanks(_ text: some StringProtocol) -> String {
    // A blank is one UTF-8 octet that occurs inside no other scalar, so trimming octets
    // trims scalars.
    let utf8 = String(text).utf8
    let isBlank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
    guard let first = utf8.firstIndex(where: { !isBlank($0) }),
          let last = utf8.lastIndex(where: { !isBlank($0) }) else { return "" }
    return String(decoding: utf8[first...last], as: UTF8.self)
}

/// The charsets a text part or an encoded-word may be written in besides UTF-8: the
/// Japanese ones mail is still sent in. Shift_JIS is read as CP932, its superset, because
/// what Windows software labels Shift_JIS has the Microsoft extensions (①, ～, 髙).
enum MessageCharset {
    static func iconvName(_ lowercasedName: String) -> String? {
        switch lowercasedName {
        case "iso-2022-jp": "ISO-2022-JP"
        case "shift_jis", "shift-jis", "sjis", "cp932", "windows-31j", "x-sjis": "CP932"
        case "euc-jp": "EUC-JP"
        default: nil
        }
    }
}

/// The iconv converters of one message, one per charset, opened on first use and reset for
/// each later text: a header of thousands of ISO-2022-JP encoded-words between plain words
/// would otherwise open (and close) a converter per word.
final class CharsetDecoders {
    private var decoders: [String: IconvDecoder] = [:]

    /// `bytes` (a whole text) from the iconv charset `name`; nil when it does not decode.
    func decode(_ bytes: some Collection<UInt8>, from name: String) -> String? {
        if let decoder = decoders[name] { return decoder.decodeWhole(bytes) }
        guard let decoder = IconvDecoder(from: name) else { return nil }
        decoders[name] = decoder
        return decoder.decodeWhole(bytes)
    }
}
