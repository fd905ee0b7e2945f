// Specification of the content guard: a rendered auto-reply passes; any address other
// than the recipient's and the list's own fails it, wherever a reader could see it and
// however it is encoded or disguised; structural risks (a second To, Cc, Bcc, bare line
// breaks, overlong lines, undecodable parts) fail it; reasons never repeat a leaked
// address; and garbage never crashes it and never passes.

import Foundation
import ListgateCore
import ListgateMail
import Testing

@Suite("Content guard")
struct ContentGuardTests {
    static let recipient = "taro@example.jp"
    static let listFrom = "news@example.org"
    static let listReplyTo = "help@example.org"
    static let allowAddress = "privacy@example.org"
    /// The address that must never get through; a reason must not contain it either.
    static let foreign = "hanako.suzuki@other-company.example"

    static var contentGuard: ContentGuard {
        get throws {
            ContentGuard(
                recipient: try EmailAddress(recipient),
                allowed: [try EmailAddress(listFrom), try EmailAddress(listReplyTo), try EmailAddress(allowAddress)])
        }
    }

    static func rendered(
        subject: String = "【確認】ニュースレターへの登録",
        text: String = "田中様\n\n登録を確定するには次のリンクを開いてください。\nhttps://lists.example.org/confirm/TOKEN\n",
        html: String = "<p>登録を確定するには<a href=\"https://lists.example.org/confirm/TOKEN\">こちら</a>を開いてください。</p>\n",
        fromName: String = "ニュースレター編集部",
        messageID: MessageID? = nil
    ) throws -> [UInt8] {
        try MIMERenderer.render(OutgoingMessage(
            from: try Mailbox(displayName: fromName, address: EmailAddress(listFrom)),
            replyTo: try EmailAddress(listReplyTo),
            to: try Recipient(EmailAddress(recipient)),
            subject: subject,
            textBody: text,
            htmlBody: html,
            messageID: messageID ?? MessageID.make(domain: "example.org"),
            date: Date(timeIntervalSince1970: 1_795_275_728)))
    }

    /// A single-part message written by hand, for encodings the renderer never produces.
    static func handWritten(headers extra: [String] = [], encoding: String, body: String) -> [UInt8] {
        let headers = [
            "Date: Sat, 21 Nov 2026 15:42:08 +0000",
            "From: \(listFrom)",
            "To: \(recipient)",
            "Subject: Receipt",
            "Message-ID: <0123456789abcdef@example.org>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: \(encoding)",
        ] + extra
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    /// `raw` with `field` (a complete header line without CRLF) added at the top.
    static func adding(_ field: String, to raw: [UInt8]) -> [UInt8] {
        Array((field + "\r\n").utf8) + raw
    }

    static func reason(_ verdict: GuardVerdict) -> String? {
        if case .fail(let reason) = verdict { return reason }
        return nil
    }

    // MARK: Passing

    @Test("a clean rendered message passes")
    func cleanMessagePasses() throws {
        #expect(try Self.contentGuard.check(Self.rendered()) == .pass)
    }

    @Test("the recipient and the list's From, Reply-To and allowed addresses pass wherever they appear")
    func ownAddressesPass() throws {
        let raw = try Self.rendered(
            subject: "\(Self.recipient) さんの登録",
            text: "宛先: \(Self.recipient)\nお問い合わせ: \(Self.listReplyTo)\n個人情報: \(Self.allowAddress)\n差出人: \(Self.listFrom)\n",
            html: "<a href=\"mailto:\(Self.listReplyTo)\">\(Self.listReplyTo.replacingOccurrences(of: "@", with: "&#64;"))</a>",
            fromName: "Contact \(Self.listFrom)")
        #expect(try Self.contentGuard.check(raw) == .pass)
    }

    @Test("an address written in Unicode form equals its A-label form")
    func unicodeDomainMatchesALabel() throws {
        let guardian = ContentGuard(recipient: try EmailAddress("taro@例え.jp"), allowed: [try EmailAddress(Self.listFrom)])
        let raw = try MIMERenderer.render(OutgoingMessage(
            from: try Mailbox(Self.listFrom), replyTo: nil, to: try Recipient(EmailAddress("taro@例え.jp")),
            subject: "Receipt", textBody: "sent to taro@例え.jp and taro@xn--r8jz45g.jp\n", htmlBody: "",
            messageID: MessageID.make(domain: "example.org"), date: Date()))
        #expect(guardian.check(raw) == .pass)
    }

    @Test("an allowed address glued to Japanese prose passes, a foreign one glued the same way fails")
    func japaneseProse() throws {
        let allowed = try Self.rendered(text: "お問い合わせは\(Self.listReplyTo)までご連絡ください。\n")
        let leaked = try Self.rendered(text: "鈴木\(Self.foreign)さんにも送りました。\n")
        #expect(try Self.contentGuard.check(allowed) == .pass)
        #expect(try Self.contentGuard.check(leaked) != .pass)
    }

    @Test("the @domain of the Message-ID is not taken for an address")
    func messageIDIgnored() throws {
        let foreignDomainID: MessageID = try #require(MessageID("<f00dfeed@mailer.other-company.example>"))
        let raw = try Self.rendered(messageID: foreignDomainID)
        #expect(try Self.contentGuard.check(raw) == .pass)
    }

    @Test("hand-written quoted-printable and base64 messages without foreign addresses pass",
          arguments: [
              ("quoted-printable", "Receipt for taro=\r\n@example.jp: caf=C3=A9\r\n"),
              ("base64", String(decoding: MIMEBase64.encode(Array("領収書 taro@example.jp\r\n".utf8)), as: UTF8.self)),
          ])
    func handWrittenPasses(encoding: String, body: String) throws {
        #expect(try Self.contentGuard.check(Self.handWritten(encoding: encoding, body: body)) == .pass)
    }

    // MARK: Leaks

    /// One place a third-party address can hide. `hidden` marks the cases where the raw
    /// bytes do not contain the address as is, so only decoding finds it.
    struct Leak: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let hidden: Bool
        let raw: @Sendable () throws -> [UInt8]
    }

    static let leaks: [Leak] = [
        Leak(testDescription: "in the text body", hidden: false) {
            try rendered(text: "Other subscribers: \(foreign)\n")
        },
        Leak(testDescription: "in the HTML body", hidden: false) {
            try rendered(html: "<p>cc: <a href=\"mailto:\(foreign)\">Hanako</a></p>")
        },
        Leak(testDescription: "in the subject (encoded-words)", hidden: true) {
            try rendered(subject: "【確認】\(foreign) さんの登録について、ご確認をお願いいたします")
        },
        Leak(testDescription: "in the From display name", hidden: true) {
            try rendered(fromName: "編集部 \(foreign)")
        },
        Leak(testDescription: "in a base64 part", hidden: true) {
            try rendered(text: "登録者一覧：\n山田太郎\n鈴木花子 \(foreign)\n以上です。よろしくお願いいたします。\n")
        },
        Leak(testDescription: "across a quoted-printable soft line break", hidden: true) {
            handWritten(encoding: "quoted-printable", body: "Other subscriber: hanako.su=\r\nzuki@other-company.example\r\n")
        },
        Leak(testDescription: "with a quoted-printable soft line break just before the @", hidden: true) {
            handWritten(encoding: "quoted-printable", body: "Other subscriber: hanako.suzuki=\r\n@other-company.example\r\n")
        },
        Leak(testDescription: "as a quoted-printable =40", hidden: true) {
            handWritten(encoding: "quoted-printable", body: "Other subscriber: hanako.suzuki=40other-company.example\r\n")
        },
        Leak(testDescription: "as &#64;", hidden: true) {
            try rendered(html: "<p>hanako.suzuki&#64;other-company.example</p>")
        },
        Leak(testDescription: "as &#x40;", hidden: true) {
            try rendered(html: "<p>hanako.suzuki&#x40;other-company.example</p>")
        },
        Leak(testDescription: "as &commat;", hidden: true) {
            try rendered(html: "<p>hanako.suzuki&commat;other-company.example</p>")
        },
        Leak(testDescription: "as %40 in a link", hidden: true) {
            try rendered(html: "<a href=\"https://lists.example.org/u?e=hanako.suzuki%40other-company.example\">x</a>")
        },
        Leak(testDescription: "with a full-width ＠", hidden: true) {
            try rendered(text: "お問い合わせ：hanako.suzuki＠other-company.example\n")
        },
        Leak(testDescription: "in a header the renderer never writes", hidden: false) {
            adding("X-Original-To: \(foreign)", to: try rendered())
        },
        Leak(testDescription: "in the preamble of the multipart body", hidden: false) {
            var raw = String(decoding: try rendered(), as: UTF8.self)
            let bodyStart = try #require(raw.range(of: "\r\n\r\n"))
            raw.insert(contentsOf: "\(foreign)\r\n", at: bodyStart.upperBound)
            return Array(raw.utf8)
        },
    ]

    @Test("a third-party address fails the message", arguments: leaks)
    func leakFails(leak: Leak) throws {
        let raw = try leak.raw()
        if leak.hidden {
            #expect(!String(decoding: raw, as: UTF8.self).contains(Self.foreign), "the case really is encoded")
        }
        #expect(Self.reason(try Self.contentGuard.check(raw)) != nil)
    }

    @Test("a failure reason names the kind of problem and the count, never the foreign address", arguments: leaks)
    func reasonDoesNotLeak(leak: Leak) throws {
        let reason = try #require(Self.reason(try Self.contentGuard.check(leak.raw())))
        #expect(!reason.contains("hanako"))
        #expect(!reason.contains("other-company"))
        #expect(reason.contains("1 address"))
    }

    // MARK: Addresses hidden in quoted local parts, escapes and address literals

    /// Spellings an attacker got past the guard: a quoted local part around another
    /// address, with that address's "@" escaped or its host an address literal. Each is
    /// two addresses to a reader: the quoted one and the one inside the quotes.
    static let hidingPayloads = [#""evil@[192.0.2.1]"@example.com"#, #""evil\@attacker.test"@example.com"#]

    /// Where a payload goes, and how the guard's reason names that place.
    struct Placement: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let place: String
        let raw: @Sendable (String) throws -> [UInt8]
    }

    static let placements: [Placement] = [
        Placement(testDescription: "text body", place: "the body") { payload in
            try rendered(text: "Other subscribers: \(payload)\n")
        },
        Placement(testDescription: "HTML body, escaped as a template escapes it", place: "the body") { payload in
            let escaped = payload.replacingOccurrences(of: "\"", with: "&quot;")
            return try rendered(html: "<p>Other subscribers: \(escaped)</p>")
        },
        Placement(testDescription: "base64 part", place: "the body") { payload in
            let encoded = MIMEBase64.encode(Array("登録者一覧：\(payload)\r\n".utf8))
            return handWritten(encoding: "base64", body: String(decoding: encoded, as: UTF8.self) + "\r\n")
        },
        Placement(testDescription: "quoted-printable part, @ as =40 and a soft break", place: "the body") { payload in
            let body = payload.replacingOccurrences(of: "@", with: "=40").replacingOccurrences(of: "evil", with: "ev=\r\nil")
            return handWritten(encoding: "quoted-printable", body: "Other subscribers: \(body)\r\n")
        },
        Placement(testDescription: "header", place: "the X-Note header") { payload in
            adding("X-Note: \(payload)", to: try rendered())
        },
        Placement(testDescription: "subject, as encoded-words", place: "the Subject header") { payload in
            try rendered(subject: "【確認】\(payload) さんの登録について")
        },
    ]

    @Test("a quoted local part hiding another address fails as two addresses, wherever it is",
          arguments: hidingPayloads, placements)
    func hiddenAddressesFail(payload: String, placement: Placement) throws {
        let reason = Self.reason(try Self.contentGuard.check(placement.raw(payload)))
        #expect(reason == "\(placement.place) contains 2 addresses other than the recipient and the list's own")
        #expect(reason?.contains("evil") == false)
    }

    @Test("an escaped @ and an address literal are addresses on their own, wherever they are",
          arguments: [#"evil\@attacker.test"#, "evil@[192.0.2.1]", "evil@[IPv6:2001:db8::1]"], placements)
    func escapedAndLiteralAddressesFail(address: String, placement: Placement) throws {
        #expect(Self.reason(try Self.contentGuard.check(placement.raw(address)))
            == "\(placement.place) contains 1 address other than the recipient and the list's own")
    }

    @Test("the recipient written with an escaped @ is still the recipient")
    func escapedRecipientPasses() throws {
        let raw = try Self.rendered(text: #"Sent to taro\@example.jp and TARO\@EXAMPLE.JP"# + "\n")
        #expect(try Self.contentGuard.check(raw) == .pass)
    }

    @Test("the reason counts distinct foreign addresses and says where they are")
    func reasonCounts() throws {
        let raw = try Self.rendered(
            text: "a@other-company.example\nb@other-company.example\nc@other-company.example\na@other-company.example\n")
        #expect(Self.reason(try Self.contentGuard.check(raw))
            == "the body contains 3 addresses other than the recipient and the list's own")
    }

    // MARK: Structure

    @Test("a Cc, Bcc, Resent or Apparently-To header fails the message, whoever it names",
          arguments: ["Cc", "BCC", "bcc", "Resent-To", "Resent-Cc", "Resent-Bcc", "Apparently-To"])
    func copyHeadersFail(name: String) throws {
        let raw = Self.adding("\(name): \(Self.recipient)", to: try Self.rendered())
        #expect(Self.reason(try Self.contentGuard.check(raw))?.contains("only To may name a recipient") == true)
    }

    @Test("a second To header fails the message, even one naming the recipient")
    func secondToFails() throws {
        let raw = Self.adding("To: \(Self.recipient)", to: try Self.rendered())
        #expect(Self.reason(try Self.contentGuard.check(raw)) == "the message has 2 To headers; exactly one is required")
    }

    @Test("a missing To header fails the message")
    func missingToFails() throws {
        let raw = String(decoding: try Self.rendered(), as: UTF8.self)
            .replacingOccurrences(of: "To: \(Self.recipient)\r\n", with: "")
        #expect(Self.reason(try Self.contentGuard.check(Array(raw.utf8))) == "the message has 0 To headers; exactly one is required")
    }

    @Test("a To header with two addresses fails the message",
          arguments: ["\(recipient), \(listFrom)", "\(recipient), \(recipient)", "\(recipient);\(listReplyTo)"])
    func twoAddressesInToFail(value: String) throws {
        let raw = Self.handWritten(encoding: "7bit", body: "Hello\r\n")
        let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "To: \(Self.recipient)", with: "To: \(value)")
        #expect(Self.reason(try Self.contentGuard.check(Array(text.utf8))) == "the To header contains 2 addresses; exactly one is allowed")
    }

    @Test("a To header naming someone other than the recipient fails the message")
    func wrongRecipientFails() throws {
        let raw = Self.handWritten(encoding: "7bit", body: "Hello\r\n")
        let text = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "To: \(Self.recipient)", with: "To: \(Self.listFrom)")
        #expect(Self.reason(try Self.contentGuard.check(Array(text.utf8))) == "the To header's address is not the recipient")
    }

    @Test("a bare LF or bare CR anywhere fails the message", arguments: ["\n", "\r"])
    func bareLineBreakFails(lineBreak: String) throws {
        let inHeader = Self.adding("X-Note: a\(lineBreak)Bcc: \(Self.foreign)", to: try Self.rendered())
        let inBody = Self.handWritten(encoding: "7bit", body: "one\(lineBreak)two\r\n")
        #expect(Self.reason(try Self.contentGuard.check(inHeader))?.hasPrefix("the message contains a bare") == true)
        #expect(Self.reason(try Self.contentGuard.check(inBody))?.hasPrefix("the message contains a bare") == true)
    }

    @Test("a line of 1,000 octets fails the message, one of 998 does not")
    func overlongLineFails() throws {
        let overlong = Self.handWritten(encoding: "7bit", body: String(repeating: "x", count: 1_000) + "\r\n")
        let longest = Self.handWritten(encoding: "7bit", body: String(repeating: "x", count: 998) + "\r\n")
        #expect(Self.reason(try Self.contentGuard.check(overlong)) == "the message has a line longer than 998 octets")
        #expect(try Self.contentGuard.check(longest) == .pass)
    }

    @Test("a part whose base64 or quoted-printable does not decode fails the message",
          arguments: [("base64", "5pys5b2T*\r\n"), ("base64", "5pys5b2\r\n"), ("quoted-printable", "caf=C\r\n"),
                      ("quoted-printable", "caf=ZZ\r\n"), ("x-uuencode", "begin 644 x\r\n")])
    func undecodablePartFails(encoding: String, body: String) throws {
        #expect(Self.reason(try Self.contentGuard.check(Self.handWritten(encoding: encoding, body: body))) != nil)
    }

    @Test("an encoded-word that does not decode fails the message")
    func undecodableEncodedWordFails() throws {
        let raw = Self.handWritten(headers: ["Comments: =?UTF-8?B?#notbase64#?="], encoding: "7bit", body: "Hello\r\n")
        #expect(Self.reason(try Self.contentGuard.check(raw)) == "the Comments header has an encoded-word that does not decode")
    }

    @Test("a multipart body without its closing boundary fails the message")
    func unterminatedMultipartFails() throws {
        let raw = String(decoding: try Self.rendered(), as: UTF8.self)
        let cut = try #require(raw.range(of: "--\r\n", options: .backwards))
        let truncated = Array(String(raw[..<cut.lowerBound]).utf8) + [0x0D, 0x0A]
        #expect(Self.reason(try Self.contentGuard.check(truncated)) == "a multipart entity has no closing boundary")
    }

    // MARK: Pinned verdicts

    /// A multipart/mixed message written by hand: `parts` are complete parts (headers, empty
    /// line, body) and go between the delimiters as they are.
    static func handWrittenMultipart(
        headers extra: [String] = [], boundary: String = "b", preamble: String? = nil, parts: [String],
        epilogue: String? = nil
    ) -> [UInt8] {
        let headers = [
            "Date: Sat, 21 Nov 2026 15:42:08 +0000",
            "From: \(listFrom)",
            "To: \(recipient)",
            "Subject: Receipt",
            "Message-ID: <0123456789abcdef@example.org>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=\"\(boundary)\"",
        ] + extra
        var body = preamble.map { $0 + "\r\n" } ?? ""
        for part in parts { body += "--\(boundary)\r\n\(part)\r\n" }
        body += "--\(boundary)--\r\n" + (epilogue ?? "")
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    static func textPart(_ text: String, headers: [String] = []) -> String {
        (["Content-Type: text/plain; charset=UTF-8"] + headers).joined(separator: "\r\n") + "\r\n\r\n" + text
    }

    /// Multipart entities nested `depth` deep around one text part.
    static func nested(depth: Int) -> [UInt8] {
        var entity = textPart("Hello")
        for level in 0..<depth {
            entity = "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n\(entity)\r\n--b\(level)--"
        }
        return handWrittenMultipart(parts: [entity])
    }

    /// A verdict of the guard as it stands, pinned so that a rewrite for speed can be
    /// checked against it: nil expects a pass, otherwise the exact reason.
    struct Pin: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let expected: String?
        let raw: @Sendable () throws -> [UInt8]
    }

    static let oneInBody = "the body contains 1 address other than the recipient and the list's own"

    static let pins: [Pin] = [
        // Obfuscations, and the order in which they are undone.
        Pin(testDescription: "&#37;40 is a %40, which is an @", expected: oneInBody) {
            try rendered(html: "<p>hanako.suzuki&#37;40other-company.example</p>")
        },
        Pin(testDescription: "%2540 is decoded once, to %40, not to @", expected: nil) {
            try rendered(html: "<a href=\"https://lists.example.org/u?e=hanako.suzuki%2540other-company.example\">x</a>")
        },
        Pin(testDescription: "a numeric reference without ; and with leading zeros", expected: oneInBody) {
            try rendered(html: "<p>hanako.suzuki&#0000064other-company.example</p>")
        },
        Pin(testDescription: "a numeric reference reads at most seven digits", expected: nil) {
            try rendered(html: "<p>hanako.suzuki&#00000064other-company.example</p>")
        },
        Pin(testDescription: "named references ignore case", expected: oneInBody) {
            try rendered(html: "<p>hanako.suzuki&COMMAT;other-company.example</p>")
        },
        Pin(testDescription: "a named reference needs its ;", expected: nil) {
            try rendered(html: "<p>hanako.suzuki&commat other-company.example</p>")
        },
        Pin(testDescription: "a reference to a surrogate is not decoded", expected: nil) {
            try rendered(html: "<p>hanako.suzuki&#xD800;other-company.example</p>")
        },
        Pin(testDescription: "the small commercial at", expected: oneInBody) {
            try rendered(text: "hanako.suzuki﹫other-company.example\n")
        },
        Pin(testDescription: "&period; and a full-width full stop separate labels", expected: oneInBody) {
            try rendered(html: "<p>hanako&#64;other-company&period;example</p><p>taro@example．jp</p>")
        },
        // Tokens.
        Pin(testDescription: "a quoted local part", expected: oneInBody) {
            try rendered(text: "Send to \"hanako suzuki\"@other-company.example please\n")
        },
        Pin(testDescription: "a single-label domain is no address", expected: nil) {
            try rendered(text: "user@localhost and @example.org and a@.example\n")
        },
        Pin(testDescription: "a full stop after an address ends it", expected: nil) {
            try rendered(text: "Write to \(listReplyTo). Or to \(listReplyTo)。\n")
        },
        Pin(testDescription: "the recipient in capitals is still the recipient", expected: nil) {
            try rendered(text: "TARO@EXAMPLE.JP\n")
        },
        Pin(testDescription: "Japanese prose around a foreign address", expected: oneInBody) {
            try rendered(text: "鈴木hanako.suzuki@other-company.exampleさんにも\n")
        },
        Pin(testDescription: "Japanese prose around an allowed address, with a full stop", expected: nil) {
            try rendered(text: "個人情報については\(allowAddress)。までご連絡ください\n")
        },
        Pin(testDescription: "one address twice, in capitals once, counts once", expected: oneInBody) {
            try rendered(text: "hanako@other-company.example\nHANAKO@OTHER-COMPANY.EXAMPLE\n")
        },
        Pin(testDescription: "an address that does not parse still counts", expected: "the body contains 2 addresses other than the recipient and the list's own") {
            try rendered(text: "a..b@other-company.example c@other-company.example\n")
        },
        // Where addresses are found, and how the reason says so.
        Pin(testDescription: "a folded header",
            expected: "the X-Note header contains 1 address other than the recipient and the list's own") {
            adding("X-Note: hello\r\n hanako.suzuki@other-company.example", to: try rendered())
        },
        Pin(testDescription: "header names that are not plain are unnamed",
            expected: "the unnamed header contains 1 address other than the recipient and the list's own") {
            adding("X.Note: hanako.suzuki@other-company.example", to: try rendered())
        },
        Pin(testDescription: "places in order of first appearance, headers before the body",
            expected: "the X-B header contains 2 addresses other than the recipient and the list's own; "
                + "the X-A header contains 1 address other than the recipient and the list's own; " + oneInBody) {
            let raw = try rendered(text: "c@other-company.example\n")
            return adding("X-B: a@other-company.example", to: adding("X-A: a@other-company.example",
                to: adding("X-B: b@other-company.example", to: raw)))
        },
        Pin(testDescription: "References and In-Reply-To are msg-ids, not addresses", expected: nil) {
            adding("In-Reply-To: <a@other-company.example>", to: adding("References: <b@other-company.example>", to: try rendered()))
        },
        Pin(testDescription: "the epilogue is read", expected: oneInBody) {
            handWrittenMultipart(parts: [textPart("Hello")], epilogue: "hanako@other-company.example\r\n")
        },
        Pin(testDescription: "a part's headers are read, as body text", expected: oneInBody) {
            handWrittenMultipart(parts: [textPart("Hello", headers: ["X-Part: hanako@other-company.example"])])
        },
        Pin(testDescription: "a delimiter may be followed by blanks", expected: nil) {
            let raw = String(decoding: handWrittenMultipart(parts: [textPart("Hello")]), as: UTF8.self)
            return Array(raw.replacingOccurrences(of: "--b--", with: "--b-- \t").utf8)
        },
        Pin(testDescription: "a delimiter followed by text is text", expected: "a multipart entity has no closing boundary") {
            let raw = String(decoding: handWrittenMultipart(parts: [textPart("Hello")]), as: UTF8.self)
            return Array(raw.replacingOccurrences(of: "--b--", with: "--b--x").utf8)
        },
        Pin(testDescription: "a part without an empty line", expected: "a body part has no empty line after its headers") {
            handWrittenMultipart(parts: ["Content-Type: text/plain"])
        },
        Pin(testDescription: "an empty part starts with its empty line", expected: nil) {
            handWrittenMultipart(parts: ["\r\nHello"])
        },
        Pin(testDescription: "a close delimiter straight after the preamble", expected: "a multipart entity has no parts") {
            handWrittenMultipart(parts: [])
        },
        Pin(testDescription: "eight levels of multipart are read", expected: nil) {
            nested(depth: 7)
        },
        Pin(testDescription: "nine levels of multipart are refused", expected: "the MIME structure is nested too deeply") {
            nested(depth: 8)
        },
        Pin(testDescription: "a boundary of 71 octets", expected: "a multipart entity has no usable boundary") {
            handWrittenMultipart(boundary: String(repeating: "z", count: 71), parts: [textPart("Hello")])
        },
        Pin(testDescription: "a base64 multipart",
            expected: "a multipart entity has a transfer encoding other than 7bit, 8bit or binary") {
            handWrittenMultipart(headers: ["Content-Transfer-Encoding: BASE64"], parts: [textPart("Hello")])
        },
        Pin(testDescription: "a repeated Content-Type parameter", expected: "a Content-Type parameter is repeated") {
            let raw = String(decoding: handWritten(encoding: "7bit", body: "Hello\r\n"), as: UTF8.self)
            return Array(raw.replacingOccurrences(of: "charset=UTF-8", with: "a=1; A=\"2\"").utf8)
        },
        Pin(testDescription: "two Content-Type headers", expected: "an entity has 2 Content-Type headers") {
            handWritten(headers: ["Content-Type: text/html"], encoding: "7bit", body: "Hello\r\n")
        },
        Pin(testDescription: "a quoted ; does not end a parameter", expected: nil) {
            handWrittenMultipart(boundary: "a;b", parts: [textPart("Hello")])
        },
        // Header syntax.
        Pin(testDescription: "a line starting with a space and a combining mark is no continuation",
            expected: "a header line has no colon") {
            adding("X-Note: hello\r\n \u{301}more", to: try rendered())
        },
        Pin(testDescription: "a colon with a combining mark is no colon", expected: "a header line has no colon") {
            adding("X-Note:\u{301} hello", to: try rendered())
        },
        Pin(testDescription: "a field name with a space", expected: "a header line has an invalid field name") {
            adding("X Note: hello", to: try rendered())
        },
        Pin(testDescription: "a C1 control in a header", expected: "a header line contains a control character") {
            adding("X-Note: a\u{85}b", to: try rendered())
        },
        Pin(testDescription: "a tab in a header", expected: nil) {
            adding("X-Note:\thello\tthere", to: try rendered())
        },
        Pin(testDescription: "invalid UTF-8 in a header", expected: "a header line is not valid UTF-8") {
            Array("X-Note: ".utf8) + [0xC3, 0x28] + Array("\r\n".utf8) + (try rendered())
        },
        Pin(testDescription: "a To with a display name", expected: nil) {
            let raw = handWritten(encoding: "7bit", body: "Hello\r\n")
            return Array(String(decoding: raw, as: UTF8.self)
                .replacingOccurrences(of: "To: \(recipient)", with: "To: =?UTF-8?B?5aSq6YOO?= <\(recipient)>").utf8)
        },
        Pin(testDescription: "a To with a comment", expected: "the To header is not a single address") {
            let raw = handWritten(encoding: "7bit", body: "Hello\r\n")
            return Array(String(decoding: raw, as: UTF8.self)
                .replacingOccurrences(of: "To: \(recipient)", with: "To: \(recipient) (Taro)").utf8)
        },
        // Transfer encodings.
        Pin(testDescription: "base64 groups may span lines", expected: oneInBody) {
            handWritten(encoding: "base64", body: "aGFuYWtvQG90a\r\nGVyLWNvbXBhbnkuZXhhbXBsZQ==\r\n")
        },
        Pin(testDescription: "base64 with one padding octet", expected: nil) {
            handWritten(encoding: "base64", body: "YWI=")
        },
        Pin(testDescription: "base64 with stray bits before the padding", expected: nil) {
            handWritten(encoding: "base64", body: "YR==")
        },
        Pin(testDescription: "base64 with three padding octets", expected: "a base64 part does not decode") {
            handWritten(encoding: "base64", body: "YWJj\r\nY===")
        },
        Pin(testDescription: "base64 with padding inside", expected: "a base64 part does not decode") {
            handWritten(encoding: "base64", body: "YQ==YWJj")
        },
        Pin(testDescription: "an empty base64 part", expected: nil) {
            handWritten(encoding: "base64", body: "")
        },
        Pin(testDescription: "a base64 part that is not UTF-8 is read with replacement characters", expected: oneInBody) {
            handWritten(encoding: "base64", body: String(decoding: MIMEBase64.encode([0xFF] + Array("a@other-company.example".utf8)), as: UTF8.self))
        },
        Pin(testDescription: "an encoded-word in Q encoding", expected:
            "the Subject header contains 1 address other than the recipient and the list's own") {
            handWritten(headers: ["Subject: =?utf-8?q?hanako=40other-company.example?="], encoding: "7bit", body: "Hello\r\n")
        },
    ]

    @Test("pinned verdicts", arguments: pins)
    func pinned(pin: Pin) throws {
        #expect(Self.reason(try Self.contentGuard.check(pin.raw())) == pin.expected)
    }

    // MARK: Garbage


    /// Fragments of mail syntax, so that garbage reaches the header, MIME and address
    /// parsers instead of failing on the first byte. The recipient's address is not among
    /// them, so no garbage can be a valid message to the recipient.
    static let fragments = [
        "\r\n", "\r\n\r\n", "To: ", "From: ", "Cc: ", " ", "\t", ":", ";", ",", "<", ">", "\"", "@", "=", "?", "-", "--",
        "example.org", "taro", "Content-Type: multipart/mixed; boundary=\"b\"", "Content-Type: multipart/alternative; boundary=",
        "--b", "--b--", "Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable",
        "=?UTF-8?B?", "=?utf-8?q?", "?=", "&#64;", "&#x", "%40", "%", "&", "＠", "あ", "\u{3099}", "=\r\n", "\r", "\n", "\0",
    ]

    static func garbage(_ generator: inout SeededGenerator, iteration: Int) -> [UInt8] {
        let length = Int.random(in: 0...600, using: &generator)
        switch iteration % 3 {
        case 0:
            return (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case 1:
            return Array((0..<length).map { _ in fragments.randomElement(using: &generator) ?? "" }.joined().utf8)
        default:
            // A plausible header block over a garbage body.
            let head = "From: \(listFrom)\r\nTo: \(listFrom)\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            return Array(head.utf8) + Array((0..<length).map { _ in fragments.randomElement(using: &generator) ?? "" }.joined().utf8)
        }
    }

    @Test("garbage bytes never crash the guard and never pass")
    func garbageNeverPasses() throws {
        let contentGuard = try Self.contentGuard
        var generator = SeededGenerator(state: 1_000_000_007)
        var passed = 0
        for iteration in 0..<200 {
            if contentGuard.check(Self.garbage(&generator, iteration: iteration)) == .pass { passed += 1 }
        }
        #expect(passed == 0)
    }
}
