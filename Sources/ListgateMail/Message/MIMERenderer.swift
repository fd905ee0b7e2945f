// Renders an OutgoingMessage as the exact RFC 5322 / MIME octets handed to SMTP.
// Everything that ends up in a header is either validated here or built from validated
// types (EmailAddress, MessageID); anything unsafe is refused with MessageError, never
// cleaned up. The header set is fixed: there is no way to emit Cc or Bcc.

import Foundation
import ListgateCore

public enum MIMERenderer {
    public static func render(_ message: OutgoingMessage) throws(MessageError) -> [UInt8] {
        try validateHeaderValues(subject: message.subject, displayName: message.from.displayName)
        let parts = [
            BodyPart(contentType: "text/plain; charset=UTF-8", text: message.textBody),
            BodyPart(contentType: "text/html; charset=UTF-8", text: message.htmlBody),
        ]
        let boundary = Boundary.make(avoiding: parts)

        var output = Array(headerSection(message, boundary: boundary).utf8)
        output += crlf
        for part in parts {
            output += Array("--\(boundary)\r\n".utf8)
            output += part.rendered
            output += crlf
        }
        output += Array("--\(boundary)--\r\n".utf8)
        return output
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    /// The free text that reaches headers. Mailbox already refuses controls in a display
    /// name; checking again here keeps the renderer safe on its own.
    static func validateHeaderValues(subject: String, displayName: String?) throws(MessageError) {
        try HeaderValue.requireSafe(subject, field: "Subject")
        if let displayName {
            try HeaderValue.requireSafe(displayName, field: "From")
        }
    }

    /// The fields in their fixed order, each ending in CRLF.
    private static func headerSection(_ message: OutgoingMessage, boundary: String) -> String {
        var fields = [
            "Date: \(RFC5322Date.format(message.date))\r\n",
            mailboxField("From", displayName: message.from.displayName, address: message.from.address),
            // No display name: nothing typed into a form is echoed into a header.
            addressField("To", message.to.path),
        ]
        if let replyTo = message.replyTo {
            fields.append(addressField("Reply-To", replyTo.smtpPath))
        }
        fields += [
            subjectField(message.subject),
            "Message-ID: \(message.messageID.value)\r\n",
            "MIME-Version: 1.0\r\n",
            // RFC 3834: tells vacation responders not to answer an auto-reply.
            "Auto-Submitted: auto-generated\r\n",
            "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n",
        ]
        return fields.joined()
    }

    private static func addressField(_ name: String, _ path: String) -> String {
        var field = HeaderFolder(name: name)
        field.append(path)
        return field.line
    }

    private static func mailboxField(_ name: String, displayName: String?, address: EmailAddress) -> String {
        guard let displayName, !displayName.isEmpty else { return addressField(name, address.smtpPath) }
        let angleAddress = "<\(address.smtpPath)>"
        if let phrase = HeaderValue.asciiPhrase(displayName, fitting: name) {
            var field = HeaderFolder(name: name)
            field.append(phrase)
            field.append(angleAddress)
            return field.line
        }
        var field = HeaderFolder(name: name, limit: EncodedWord.maximumLineLength)
        appendEncodedWords(displayName, to: &field, name: name)
        field.append(angleAddress)
        return field.line
    }

    private static func subjectField(_ subject: String) -> String {
        let name = "Subject"
        if HeaderValue.isVerbatimSubject(subject, name: name) {
            return "\(name): \(subject)\r\n"
        }
        var field = HeaderFolder(name: name, limit: EncodedWord.maximumLineLength)
        appendEncodedWords(subject, to: &field, name: name)
        return field.line
    }

    /// One encoded-word per line, the first sized to fit after "Name: ".
    private static func appendEncodedWords(_ text: String, to field: inout HeaderFolder, name: String) {
        let firstWordLimit = EncodedWord.maximumLineLength - (name.utf8.count + 2)
        for word in EncodedWord.encode(text, firstWordLimit: firstWordLimit) {
            field.append(word, alwaysFold: true)
        }
    }
}

// MARK: - Header values

enum HeaderValue {
    /// Refuses C0 and C1 controls (CR, LF, NUL, TAB…), DEL, and U+2028/U+2029, which some
    /// software treats as line breaks.
    static func requireSafe(_ value: String, field: String) throws(MessageError) {
        for scalar in value.unicodeScalars where isUnsafe(scalar) {
            throw .headerInjection(field: field)
        }
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
        default: false
        }
    }

    /// Printable ASCII (SP through "~") with no "=?", which a client could take for an
    /// encoded-word and decode into something else.
    static func isPlainASCII(_ value: String) -> Bool {
        value.utf8.allSatisfy { (0x20...0x7E).contains($0) } && !value.contains("=?")
    }

    /// A subject written as is: plain ASCII, no blank at either end (parsers drop them),
    /// and short enough for one line.
    static func isVerbatimSubject(_ subject: String, name: String) -> Bool {
        isPlainASCII(subject) && !subject.isEmpty && subject.first != " " && subject.last != " "
            && name.utf8.count + 2 + subject.utf8.count <= HeaderFolder.preferredLineLength
    }

    /// An ASCII display name as an RFC 5322 phrase (atoms as is, otherwise a quoted-string),
    /// or nil when it must be encoded: non-ASCII, "=?", or too long to fit on the first
    /// line, where encoded-words fold and a quoted-string would not.
    static func asciiPhrase(_ name: String, fitting fieldName: String) -> String? {
        guard isPlainASCII(name) else { return nil }
        let phrase = isAtomPhrase(name) ? name : quotedString(name)
        guard fieldName.utf8.count + 2 + phrase.utf8.count <= HeaderFolder.preferredLineLength else { return nil }
        return phrase
    }

    /// Atoms separated by single spaces, e.g. `Example News`.
    private static func isAtomPhrase(_ name: String) -> Bool {
        let words = name.split(separator: " ", omittingEmptySubsequences: false)
        return words.allSatisfy { word in !word.isEmpty && word.unicodeScalars.allSatisfy(isAtext) }
    }

    private static func quotedString(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    private static func isAtext(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        default: "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
        }
    }
}

// MARK: - Body

/// One leaf of the multipart/alternative: its line breaks normalised to CRLF, then
/// transfer-encoded with whatever keeps it within the line limits at the least size.
private struct BodyPart {
    let encoding: ContentTransferEncoding
    let encoded: [UInt8]
    let rendered: [UInt8]

    init(contentType: String, text: String) {
        let canonical = Self.canonicalLineBreaks(Array(text.utf8))
        encoding = ContentTransferEncoding.choose(for: canonical)
        encoded = encoding.encode(canonical)
        let headers = "Content-Type: \(contentType)\r\nContent-Transfer-Encoding: \(encoding.rawValue)\r\n\r\n"
        rendered = Array(headers.utf8) + encoded
    }

    /// CRLF, a lone LF and a lone CR all become CRLF: the canonical form of text
    /// (RFC 2045 §2.10), and a lone CR or LF on the wire is read differently by every MTA.
    static func canonicalLineBreaks(_ bytes: [UInt8]) -> [UInt8] {
        // Text whose every CR and LF is already a CRLF pair (what the templates give) is
        // returned as it is; anything else is rebuilt.
        guard !isCanonical(bytes) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 40)
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x0D:
                output.append(0x0D)
                output.append(0x0A)
                let next = index + 1
                index += next < bytes.count && bytes[next] == 0x0A ? 2 : 1
            case 0x0A:
                output.append(0x0D)
                output.append(0x0A)
                index += 1
            case let byte:
                output.append(byte)
                index += 1
            }
        }
        return output
    }

    private static func isCanonical(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x0D:
                guard index + 1 < bytes.count, bytes[index + 1] == 0x0A else { return false }
                index += 2
            case 0x0A:
                return false
            default:
                index += 1
            }
        }
        return true
    }
}

/// The multipart boundary. It starts with "=_", which quoted-printable and base64 output
/// can never contain, so only a 7bit part could hold it, and then a new one is drawn.
private enum Boundary {
    static func make(avoiding parts: [BodyPart]) -> String {
        while true {
            let boundary = "=_" + RandomToken.hex(bytes: 16)
            let delimiter = Array(("--" + boundary).utf8)
            if !parts.contains(where: { $0.encoding == .sevenBit && contains($0.encoded, delimiter) }) {
                return boundary
            }
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}

// MARK: - Date

/// RFC 5322 §3.3 date-time in UTC, e.g. `Sat, 21 Nov 2026 15:42:08 +0000`. Built from
/// calendar fields, not a DateFormatter, so no locale can change a day or month name.
private enum RFC5322Date {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let weekday = weekdays[((parts.weekday ?? 1) - 1) % 7]
        let month = months[((parts.month ?? 1) - 1) % 12]
        return "\(weekday), \(pad(parts.day)) \(month) \(pad(parts.year, width: 4)) "
            + "\(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second)) +0000"
    }

    private static func pad(_ value: Int?, width: Int = 2) -> String {
        let digits = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
