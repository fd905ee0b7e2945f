// Specification of how a message is read before anything is judged: parts that cannot be
// read as text fail (an image is checked for form only), attached messages are read like
// the message itself, Japanese legacy charsets are decoded (so a full-width at sign in
// them is seen), and the limits on nesting, parts and header fields make hostile
// structures fail fast, with a reason that says which limit.

import Foundation
import ListgateCore
@testable import ListgateMail
import Testing

@Suite("Message reading")
struct MessageReadingTests {
    typealias Fixture = ContentGuardTests

    static func reason(_ raw: [UInt8]) throws -> String? {
        Fixture.reason(try Fixture.contentGuard.check(raw))
    }

    static let oneInBody = "the body contains 1 address other than the recipient and the list's own"
    static let esc: UInt8 = 0x1B
    /// "＠" in each charset, and the bytes around it.
    static let wideAt: [String: [UInt8]] = [
        "ISO-2022-JP": [esc, 0x24, 0x42, 0x21, 0x77, esc, 0x28, 0x42],
        "Shift_JIS": [0x81, 0x97],
        "EUC-JP": [0xA1, 0xF7],
    ]
    /// "こんにちは" in each charset.
    static let greeting: [String: [UInt8]] = [
        "ISO-2022-JP": [esc, 0x24, 0x42, 0x24, 0x33, 0x24, 0x73, 0x24, 0x4B, 0x24, 0x41, 0x24, 0x4F, esc, 0x28, 0x42],
        "Shift_JIS": [0x82, 0xB1, 0x82, 0xF1, 0x82, 0xC9, 0x82, 0xBF, 0x82, 0xCD],
        "EUC-JP": [0xA4, 0xB3, 0xA4, 0xF3, 0xA4, 0xCB, 0xA4, 0xC1, 0xA4, 0xCF],
    ]

    /// A single-part message whose body is `body` in `charset`, 8bit.
    static func legacyMessage(charset: String, body: [UInt8]) -> [UInt8] {
        let raw = Fixture.handWritten(encoding: "8bit", body: "")
        let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "charset=UTF-8", with: "charset=\(charset)")
        return Array(text.utf8) + body + [0x0D, 0x0A]
    }

    // MARK: Copy fields

    @Test("any Resent field fails the message, whoever it names",
          arguments: ["Resent-From", "Resent-Sender", "Resent-Date", "RESENT-MESSAGE-ID", "Resent-Reply-To"])
    func resentFieldsFail(name: String) throws {
        let raw = Fixture.adding("\(name): \(Fixture.listFrom)", to: try Fixture.rendered())
        #expect(try Self.reason(raw) == "the message has a \(name) header; only To may name a recipient")
    }

    // MARK: Parts

    @Test("a part other than text or an image fails the message as unreadable",
          arguments: ["application/zip", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      "application/octet-stream", "audio/mpeg", "message/partial"])
    func nonTextPartFails(mediaType: String) throws {
        let part = "Content-Type: \(mediaType)\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBAoAAAAAAA=="
        let raw = Fixture.handWrittenMultipart(parts: [Fixture.textPart("Hello"), part])
        #expect(try Self.reason(raw) == "the body part 2 (\(mediaType)) cannot be checked; only text and image parts can be")
    }

    @Test("a part type that is not a plain token is not repeated in the reason")
    func oddPartTypeIsNotRepeated() throws {
        let raw = Fixture.handWrittenMultipart(parts: ["Content-Type: application/x@other-company.example\r\n\r\nxx"])
        #expect(try Self.reason(raw) == "the body part 1 (unknown type) cannot be checked; only text and image parts can be")
    }

    @Test("an image is transfer-decoded but not read as text")
    func imagePassesUnscanned() throws {
        // Image octets that happen to spell an address are no address a reader sees.
        let png = [0x89, 0x50, 0x4E, 0x47] + Array("hanako@other-company.example".utf8)
        let image = "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + String(decoding: MIMEBase64.encode(png), as: UTF8.self)
        let raw = Fixture.handWrittenMultipart(parts: [Fixture.textPart("Hello"), image])
        #expect(try Self.reason(raw) == nil)
        let reading = try MessageReading.read(raw)
        #expect(reading.parts == [ReadPart(index: 1, mediaType: "text/plain", isScanned: true),
                                  ReadPart(index: 2, mediaType: "image/png", isScanned: false)])
    }

    @Test("an image whose base64 does not decode fails the message")
    func brokenImageFails() throws {
        let image = "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBO*w0K"
        #expect(try Self.reason(Fixture.handWrittenMultipart(parts: [image])) == "a base64 part does not decode")
    }

    // MARK: Attached messages

    static func attached(_ inner: String, encoding: String = "7bit") -> [UInt8] {
        Fixture.handWrittenMultipart(parts: [
            Fixture.textPart("Forwarded:"),
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: \(encoding)\r\n\r\n\(inner)",
        ])
    }

    static let innerMessage = "From: someone@example.org\r\nSubject: hi\r\n\r\nHello\r\n"

    @Test("an attached message without foreign addresses passes")
    func attachedMessagePasses() throws {
        #expect(try Self.reason(Self.attached(Self.innerMessage.replacingOccurrences(of: "someone@example.org", with: Fixture.listFrom))) == nil)
    }

    @Test("a foreign address in an attached message's header or body fails the message",
          arguments: ["From: hanako@other-company.example\r\n\r\nHello\r\n",
                      "Subject: hi\r\n\r\nWrite to hanako@other-company.example\r\n",
                      "Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\n\r\nhanako@other-company.example\r\n--i--\r\n"])
    func attachedMessageIsRead(inner: String) throws {
        #expect(try Self.reason(Self.attached(inner)) == Self.oneInBody)
    }

    @Test("an attached message in base64 fails the message", arguments: ["base64", "quoted-printable"])
    func encodedAttachedMessageFails(encoding: String) throws {
        let inner = String(decoding: MIMEBase64.encode(Array("Subject: hi\r\n\r\nhanako@other-company.example\r\n".utf8)), as: UTF8.self)
        #expect(try Self.reason(Self.attached(inner, encoding: encoding))
            == "an attached message has a transfer encoding other than 7bit, 8bit or binary")
    }

    @Test("attached messages count towards the nesting limit")
    func attachedMessagesNest() throws {
        var inner = "Subject: innermost\r\n\r\nHello\r\n"
        for _ in 0..<8 {
            inner = "Subject: wrapper\r\nContent-Type: message/rfc822\r\n\r\n" + inner
        }
        #expect(try Self.reason(Self.attached(inner)) == "the MIME structure is nested too deeply")
    }

    // MARK: Charsets

    @Test("a full-width at sign in a legacy Japanese body fails the message", arguments: ["ISO-2022-JP", "Shift_JIS", "EUC-JP"])
    func wideAtSignInLegacyCharset(charset: String) throws {
        let body = try #require(Self.greeting[charset]) + Array(" hanako".utf8) + (try #require(Self.wideAt[charset]))
            + Array("other-company.example".utf8)
        #expect(try Self.reason(Self.legacyMessage(charset: charset, body: body)) == Self.oneInBody)
    }

    @Test("a legacy Japanese body without foreign addresses passes",
          arguments: [("ISO-2022-JP", "ISO-2022-JP"), ("shift_jis", "Shift_JIS"), ("euc-jp", "EUC-JP"),
                      ("CP932", "Shift_JIS"), ("Windows-31J", "Shift_JIS")])
    func legacyCharsetPasses(label: String, charset: String) throws {
        let body = try #require(Self.greeting[charset])
        #expect(try Self.reason(Self.legacyMessage(charset: label, body: body)) == nil)
    }

    @Test("a legacy Japanese body in base64 is decoded before it is read")
    func legacyCharsetInBase64() throws {
        let body = try #require(Self.greeting["ISO-2022-JP"]) + Array("a".utf8) + (try #require(Self.wideAt["ISO-2022-JP"]))
            + Array("other-company.example".utf8)
        let raw = Fixture.handWritten(encoding: "base64", body: String(decoding: MIMEBase64.encode(body), as: UTF8.self))
        let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "charset=UTF-8", with: "charset=\"iso-2022-jp\"")
        #expect(try Self.reason(Array(text.utf8)) == Self.oneInBody)
    }

    @Test("a body that is not in its declared legacy charset fails the message")
    func undecodableLegacyBody() throws {
        #expect(try Self.reason(Self.legacyMessage(charset: "Shift_JIS", body: [0x82, 0x20, 0xFF]))
            == "a text part does not decode as CP932")
    }

    @Test("a charset that cannot be read fails the message", arguments: ["utf-16", "x-unknown", "koi8-r"])
    func unknownCharsetFails(charset: String) throws {
        #expect(try Self.reason(Self.legacyMessage(charset: charset, body: Array("Hello".utf8)))
            == "a text part has a charset that cannot be read")
    }

    @Test("a full-width at sign in an ISO-2022-JP encoded-word fails the message")
    func wideAtSignInEncodedWord() throws {
        // "【お知らせ】a＠other-company.example" in ISO-2022-JP, base64.
        let subject = "=?ISO-2022-JP?B?GyRCIVokKkNOJGkkOyFbGyhCYRskQiF3GyhCb3RoZXItY29tcGFueS5leGFtcGxl?="
        let raw = Fixture.handWritten(headers: ["Comments: \(subject)"], encoding: "7bit", body: "Hello\r\n")
        #expect(try Self.reason(raw) == "the Comments header contains 1 address other than the recipient and the list's own")
        #expect(EncodedWord.decodeHeaderValue(subject) == "【お知らせ】a＠other-company.example")
    }

    @Test("an ISO-2022-JP encoded-word that does not decode fails the message")
    func undecodableLegacyEncodedWord() throws {
        let word = "=?ISO-2022-JP?B?\(String(decoding: MIMEBase64.encode([Self.esc, 0x24, 0x42, 0x21]), as: UTF8.self))?="
        let raw = Fixture.handWritten(headers: ["Comments: \(word)"], encoding: "7bit", body: "Hello\r\n")
        #expect(try Self.reason(raw) == "the Comments header has an encoded-word that does not decode")
    }

    // MARK: Limits

    @Test("a MIME tree nested 1,000 deep fails fast")
    func deepNestingFailsFast() throws {
        let raw = Fixture.nested(depth: 1_000)
        let started = ContinuousClock.now
        #expect(try Self.reason(raw) == "the MIME structure is nested too deeply")
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    static func manyParts(_ count: Int) -> [UInt8] {
        Fixture.handWrittenMultipart(parts: Array(repeating: Fixture.textPart("Hello"), count: count))
    }

    @Test("2,000 parts fail fast; 1,000 are read")
    func tooManyPartsFail() throws {
        let started = ContinuousClock.now
        #expect(try Self.reason(Self.manyParts(2_000)) == "the MIME structure has more than 1,000 parts")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(try Self.reason(Self.manyParts(1_000)) == nil)
    }

    @Test("parts are counted over the whole tree, not per multipart entity")
    func partsCountOverTheTree() throws {
        let inner = "Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n"
            + String(repeating: "--i\r\n\(Fixture.textPart("Hello"))\r\n", count: 600) + "--i--"
        #expect(try Self.reason(Fixture.handWrittenMultipart(parts: [inner, inner]))
            == "the MIME structure has more than 1,000 parts")
    }

    @Test("more than 1,000 header fields fail the message; 1,000 pass")
    func tooManyFieldsFail() throws {
        let rendered = try Fixture.rendered()
        let fieldCount = try MessageReading.read(rendered).fields.count
        func with(_ extra: Int) -> [UInt8] {
            Array((0..<extra).map { "X-Note-\($0): hello\r\n" }.joined().utf8) + rendered
        }
        #expect(try Self.reason(with(1_000 - fieldCount)) == nil)
        #expect(try Self.reason(with(1_001 - fieldCount)) == "a header section has more than 1,000 fields")
    }

    @Test("a header section over 1 MiB fails the message")
    func oversizedHeaderFails() throws {
        // 600 fields of 1,800 octets, each folded into two lines of 900.
        let half = String(repeating: "x", count: 900)
        let fields = (0..<600).map { "X-Note-\($0): \(half)\r\n \(half)\r\n" }.joined()
        #expect(try Self.reason(Array(fields.utf8) + (try Fixture.rendered())) == "a header section is larger than 1 MiB")
    }

    @Test("structural failures carry the code the preflight reports")
    func failureCodes() throws {
        func code(_ raw: [UInt8]) -> String? {
            do {
                _ = try MessageReading.read(raw)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code([]) == "not_a_message")
        #expect(code(Array("Hello".utf8)) == "not_a_message")
        #expect(code(Fixture.handWritten(encoding: "7bit", body: "a\nb")) == "bare_line_break")
        #expect(code(Fixture.handWritten(encoding: "7bit", body: String(repeating: "x", count: 999))) == "line_too_long")
        #expect(code(Array("X-Note: ".utf8) + [0xC3, 0x28] + Array("\r\n".utf8) + (try Fixture.rendered())) == "header_not_utf8")
        #expect(code(Fixture.adding("X-Note: a\u{85}b", to: try Fixture.rendered())) == "header_control")
        #expect(code(Fixture.nested(depth: 9)) == "mime_unreadable")
        #expect(code(Fixture.handWrittenMultipart(parts: ["Content-Type: application/zip\r\n\r\nPK"])) == "unreadable_part")
    }
}
