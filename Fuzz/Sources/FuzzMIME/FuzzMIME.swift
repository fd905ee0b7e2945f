// libFuzzer target: the MIME builder. The input, split at 0xFF octets (never part of
// UTF-8), gives the subject, the From display name, the text body and the HTML body;
// its first octet picks the recipient and whether there is a Reply-To. The renderer must
// refuse a subject with a control or line break (and nothing else), and whatever it
// renders must be CRLF-only, with no line over 998 octets, only its fixed header fields,
// one To equal to the recipient, and parse back — by the independent decoder below, not
// the content guard's — to the same subject, display name and bodies.
import FuzzDriver
import Foundation
import ListgateCore
import ListgateMail

let recipients = ["reader@example.net", "山田@example.jp", "user@例え.jp", "o'brien+a&b@example.org"]

@main
enum Fuzz {
    static func main() { runFuzzer(fuzzMIME) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIME(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let fields = bytes.dropFirst().split(separator: 0xFF, maxSplits: 3, omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
    func field(_ index: Int) -> String { index < fields.count ? fields[index] : "" }
    let subject = field(0), name = field(1), text = field(2), html = field(3)

    let from = (try? Mailbox(quotedName(name) + " <news@example.org>")) ?? (try! Mailbox("news@example.org"))
    let recipient = try! Recipient(EmailAddress(recipients[Int(selector) % recipients.count]))
    let replyTo = selector & 0x10 != 0 ? try! EmailAddress("support@example.org") : nil
    let message = OutgoingMessage(
        from: from, replyTo: replyTo, to: recipient, subject: subject, textBody: text, htmlBody: html,
        messageID: MessageID.make(domain: "example.org"), date: Date(timeIntervalSince1970: 1_800_000_000))

    let unsafeSubject = subject.unicodeScalars.contains(where: isUnsafe)
    let raw: [UInt8]
    do {
        raw = try MIMERenderer.render(message)
    } catch {
        guard unsafeSubject || (from.displayName?.unicodeScalars.contains(where: isUnsafe) ?? false) else {
            fail("refused a safe message: \(error)", subject, name)
        }
        return 0
    }
    if unsafeSubject { fail("rendered a subject with a control or line break", subject, name) }
    Checker(raw: raw, message: message, subject: subject, name: name).run()
    return 0
}

/// The display name as an RFC 5322 quoted-string, so that Mailbox keeps it as typed.
func quotedName(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
    default: false
    }
}

func fail(_ problem: String, _ subject: String, _ name: String, raw: [UInt8] = []) -> Never {
    fatalError("""
        \(problem)
        subject scalars: \(subject.unicodeScalars.map { String($0.value, radix: 16) })
        name scalars: \(name.unicodeScalars.map { String($0.value, radix: 16) })
        \(String(decoding: raw.prefix(4000), as: UTF8.self))
        """)
}

struct Checker {
    let raw: [UInt8]
    let message: OutgoingMessage
    let subject: String
    let name: String

    func fail(_ problem: String) -> Never { FuzzMIME.fail(problem, subject, name, raw: raw) }

    func run() {
        let lines = crlfLines()
        guard let blank = lines.firstIndex(where: \.isEmpty) else { fail("no end of the header section") }
        let fields = unfoldedFields(Array(lines[..<blank]))
        checkFields(fields)
        checkBodies(fields, bodyLines: Array(lines[(blank + 1)...]))
    }

    /// Lines without their CRLF; fails on a bare CR or LF or a line over 998 octets.
    func crlfLines() -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0, index = 0
        while index < raw.count {
            switch raw[index] {
            case 0x0D:
                guard index + 1 < raw.count, raw[index + 1] == 0x0A else { fail("bare CR at \(index)") }
                lines.append(raw[start..<index])
                index += 2
                start = index
            case 0x0A:
                fail("bare LF at \(index)")
            default:
                index += 1
            }
        }
        guard start == raw.count else { fail("the message does not end with CRLF") }
        if let long = lines.first(where: { $0.count > 998 }) { fail("a line of \(long.count) octets") }
        return lines
    }

    /// (lower-cased name, unfolded value) in order; fails on anything that is neither a
    /// field nor a continuation, and on controls in a header.
    func unfoldedFields(_ lines: [ArraySlice<UInt8>]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for line in lines {
            if line.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) { fail("a control octet in a header line") }
            if let first = line.first, first == 0x20 || first == 0x09 {
                guard !fields.isEmpty else { fail("a continuation line before any field") }
                fields[fields.count - 1].value += String(decoding: line, as: UTF8.self)
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { fail("a header line without a colon") }
            let fieldName = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            var value = String(decoding: line[(colon + 1)...], as: UTF8.self)
            if value.hasPrefix(" ") { value.removeFirst() }
            fields.append((fieldName, value))
        }
        return fields
    }

    func checkFields(_ fields: [(name: String, value: String)]) {
        let expected = ["date", "from", "to"] + (message.replyTo == nil ? [] : ["reply-to"])
            + ["subject", "message-id", "mime-version", "auto-submitted", "content-type"]
        guard fields.map(\.name) == expected else { fail("header fields \(fields.map(\.name))") }
        func value(_ fieldName: String) -> String { fields.first { $0.name == fieldName }!.value }
        guard value("to") == message.to.path else { fail("To is \(value("to")), not \(message.to.path)") }
        guard decodedHeader(value("subject")) == subject else {
            fail("Subject decodes to \(decodedHeader(value("subject")) ?? "nothing")")
        }
        let fromValue = value("from")
        if let displayName = message.from.displayName, !displayName.isEmpty {
            guard fromValue.hasSuffix(" <news@example.org>") else { fail("From is \(fromValue)") }
            let phrase = String(fromValue.dropLast(" <news@example.org>".count))
            guard decodedPhrase(phrase) == displayName else { fail("From's name decodes to \(decodedPhrase(phrase) ?? "nothing")") }
        } else if fromValue != "news@example.org" {
            fail("From is \(fromValue)")
        }
    }

    // MARK: Header decoding (RFC 2047 B words, RFC 5322 phrases)

    /// A value made only of UTF-8 B encoded-words separated by white space, decoded with
    /// the octets of adjacent words joined; any other value as it is.
    func decodedHeader(_ value: String) -> String? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard !words.isEmpty, words.allSatisfy({ $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") }) else {
            return value
        }
        var octets: [UInt8] = []
        for word in words {
            let payload = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
            guard let data = Data(base64Encoded: String(payload)) else { return nil }
            octets += data
        }
        return String(validating: octets, as: UTF8.self)
    }

    /// Encoded words, a quoted-string, or atoms.
    func decodedPhrase(_ phrase: String) -> String? {
        if phrase.hasPrefix("=?") { return decodedHeader(phrase) }
        guard phrase.hasPrefix("\""), phrase.hasSuffix("\""), phrase.count >= 2 else { return phrase }
        var result = ""
        var escaped = false
        for character in phrase.dropFirst().dropLast() {
            if escaped { result.append(character); escaped = false } else if character == "\\" { escaped = true } else {
                result.append(character)
            }
        }
        return escaped ? nil : result
    }

    // MARK: Body

    func checkBodies(_ fields: [(name: String, value: String)], bodyLines: [ArraySlice<UInt8>]) {
        let contentType = fields.first { $0.name == "content-type" }!.value
        guard let range = contentType.range(of: "boundary=\""), contentType.hasSuffix("\"") else {
            fail("Content-Type \(contentType)")
        }
        let boundary = String(contentType[range.upperBound...].dropLast())
        let delimiter = Array("--\(boundary)".utf8), closing = Array("--\(boundary)--".utf8)
        var parts: [[ArraySlice<UInt8>]] = []
        var closed = false
        for line in bodyLines {
            if closed { fail("text after the closing delimiter") }
            if line.elementsEqual(closing) { closed = true; continue }
            if line.elementsEqual(delimiter) { parts.append([]); continue }
            guard !parts.isEmpty else { fail("text before the first delimiter") }
            parts[parts.count - 1].append(line)
        }
        guard closed, parts.count == 2 else { fail("\(parts.count) parts, closed: \(closed)") }
        checkPart(parts[0], type: "text/plain; charset=UTF-8", text: message.textBody)
        checkPart(parts[1], type: "text/html; charset=UTF-8", text: message.htmlBody)
    }

    func checkPart(_ lines: [ArraySlice<UInt8>], type: String, text: String) {
        guard let blank = lines.firstIndex(where: \.isEmpty) else { fail("a part without a header section") }
        let headers = lines[..<blank].map { String(decoding: $0, as: UTF8.self) }
        guard headers.count == 2, headers[0] == "Content-Type: \(type)", headers[1].hasPrefix("Content-Transfer-Encoding: ") else {
            fail("part headers \(headers)")
        }
        let encoding = headers[1].dropFirst("Content-Transfer-Encoding: ".count)
        // The content: the part's lines after its header section, joined with CRLF; the
        // CRLF before the next delimiter belongs to the delimiter.
        var content: [UInt8] = []
        for (index, line) in lines[(blank + 1)...].enumerated() {
            if index > 0 { content += [0x0D, 0x0A] }
            content += line
        }
        let decoded: [UInt8]
        switch encoding {
        case "7bit":
            if content.contains(where: { $0 >= 0x80 || $0 == 0 }) { fail("a 7bit part with 8-bit or NUL octets") }
            decoded = content
        case "quoted-printable":
            // RFC 2045 §6.7 (3): white space at the end of an encoded line must be encoded.
            if lines[(blank + 1)...].contains(where: { $0.last == 0x20 || $0.last == 0x09 }) {
                fail("quoted-printable line ending in white space")
            }
            guard let octets = quotedPrintableDecoded(content) else { fail("invalid quoted-printable") }
            decoded = octets
        case "base64":
            guard let data = Data(base64Encoded: Data(content), options: .ignoreUnknownCharacters) else { fail("invalid base64") }
            decoded = [UInt8](data)
        default:
            fail("transfer encoding \(encoding)")
        }
        guard decoded == canonical(Array(text.utf8)) else { fail("a \(type) part that does not decode to its text (\(encoding))") }
    }

    func quotedPrintableDecoded(_ content: [UInt8]) -> [UInt8]? {
        var output: [UInt8] = []
        var index = 0
        while index < content.count {
            let byte = content[index]
            guard byte == UInt8(ascii: "=") else { output.append(byte); index += 1; continue }
            if content.count - index >= 3, content[index + 1] == 0x0D, content[index + 2] == 0x0A {
                index += 3  // soft line break
                continue
            }
            guard content.count - index >= 3, let high = hexValue(content[index + 1]), let low = hexValue(content[index + 2]) else {
                return nil
            }
            output.append(high << 4 | low)
            index += 3
        }
        return output
    }

    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// CR, LF and CRLF all as CRLF (RFC 2045 canonical text).
    func canonical(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0D {
                output += [0x0D, 0x0A]
                index += index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
            } else if bytes[index] == 0x0A {
                output += [0x0D, 0x0A]
                index += 1
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }
}
