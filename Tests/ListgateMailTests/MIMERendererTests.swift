// Specification of the MIME renderer: the fixed header set (one To, never Cc or Bcc),
// RFC 2047 subjects and display names that never split a character, bodies that keep
// every line within RFC 5322 limits, refusal of header injection, and a cross-check
// against an independent parser (Python's email package, policy=strict).

import Foundation
import ListgateCore
@testable import ListgateMail
import Testing

@Suite("MIME rendering")
struct MIMERendererTests {
    /// Sat, 21 Nov 2026 15:42:08 +0000.
    static let date = Date(timeIntervalSince1970: 1_795_275_728)
    static let japaneseSubject = "【重要】メールアドレスの確認のお願い — ニュースレター「週刊お知らせ」への登録"

    static func message(
        subject: String = "Please confirm your subscription",
        text: String = "Hello,\nplease confirm.\n",
        html: String = "<p>Hello,</p>\n<p>please confirm.</p>\n",
        from: String = "Example News <news@example.org>",
        replyTo: String? = "help@example.org",
        to: String = "taro@example.jp"
    ) throws -> OutgoingMessage {
        OutgoingMessage(
            from: try Mailbox(from),
            replyTo: try replyTo.map { try EmailAddress($0) },
            to: try Recipient(EmailAddress(to)),
            subject: subject,
            textBody: text,
            htmlBody: html,
            messageID: MessageID.make(domain: "example.org"),
            date: date)
    }

    static func render(_ message: OutgoingMessage) throws -> [UInt8] {
        try MIMERenderer.render(message)
    }

    /// The header section as unfolded (name, value) pairs, in order.
    static func headers(_ raw: [UInt8]) -> [(name: String, value: String)] {
        let text = String(decoding: raw, as: UTF8.self)
        let section = text.components(separatedBy: "\r\n\r\n")[0]
        var fields: [(name: String, value: String)] = []
        for line in section.components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t") {
                fields[fields.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
        }
        return fields
    }

    /// The physical lines of the header field `name`, folding kept.
    static func fieldLines(_ name: String, in raw: [UInt8]) -> [String] {
        let text = String(decoding: raw, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix(name + ":") }) else { return [] }
        let continuation = lines[(start + 1)...].prefix { $0.hasPrefix(" ") || $0.hasPrefix("\t") }
        return [lines[start]] + continuation
    }

    /// The encoded-words of a field, each decoded on its own with Foundation's base64.
    static func decodedWords(_ fieldLines: [String]) -> [[UInt8]?] {
        fieldLines.flatMap { $0.split(separator: " ") }
            .filter { $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") }
            .map { word in
                let payload = word.dropFirst("=?UTF-8?B?".count).dropLast(2)
                return Data(base64Encoded: String(payload)).map { Array($0) }
            }
    }

    static func encodedWords(_ fieldLines: [String]) -> [Substring] {
        fieldLines.flatMap { $0.split(separator: " ") }.filter { $0.hasPrefix("=?") }
    }

    /// Lines split on CRLF; the second value says whether any CR or LF was not part of a pair.
    static func lines(_ raw: [UInt8]) -> (lines: [[UInt8]], strayBreaks: Bool) {
        var lines: [[UInt8]] = [[]]
        var stray = false
        var index = 0
        while index < raw.count {
            if raw[index] == 0x0D, index + 1 < raw.count, raw[index + 1] == 0x0A {
                lines.append([])
                index += 2
                continue
            }
            if raw[index] == 0x0D || raw[index] == 0x0A { stray = true }
            lines[lines.count - 1].append(raw[index])
            index += 1
        }
        return (lines, stray)
    }

    // MARK: Header set

    @Test("the header fields are exactly Date, From, To, Reply-To, Subject, Message-ID, MIME-Version, Auto-Submitted and Content-Type, in that order")
    func headerOrder() throws {
        let raw = try Self.render(Self.message())
        #expect(Self.headers(raw).map(\.name) == [
            "Date", "From", "To", "Reply-To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type",
        ])
    }

    @Test("Reply-To is left out when the list has none")
    func noReplyTo() throws {
        let raw = try Self.render(Self.message(replyTo: nil))
        #expect(Self.headers(raw).map(\.name) == [
            "Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type",
        ])
    }

    @Test("the fixed fields have their fixed values: RFC 5322 UTC date, MIME 1.0, auto-generated, multipart/alternative")
    func fixedValues() throws {
        let message = try Self.message()
        let fields = Dictionary(Self.headers(try Self.render(message)).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        #expect(fields["Date"] == "Sat, 21 Nov 2026 15:42:08 +0000")
        #expect(fields["Message-ID"] == message.messageID.value)
        #expect(fields["MIME-Version"] == "1.0")
        #expect(fields["Auto-Submitted"] == "auto-generated")
        #expect(fields["Content-Type"]?.hasPrefix("multipart/alternative; boundary=\"=_") == true)
    }

    @Test("there is exactly one To field and it holds only the recipient's address, with the domain in A-labels")
    func singleTo() throws {
        let raw = try Self.render(Self.message(to: "Taro.Yamada@例え.jp"))
        let toFields = Self.headers(raw).filter { $0.name.lowercased() == "to" }
        #expect(toFields.count == 1)
        #expect(toFields.first?.value == "Taro.Yamada@xn--r8jz45g.jp")
    }

    @Test("no Cc, Bcc or Resent field is ever written, even when the subject and body mention them")
    func noCopies() throws {
        let raw = try Self.render(Self.message(
            subject: "Bcc: everyone", text: "Cc: other@example.org\nBcc: x@example.org\n"))
        let names = Self.headers(raw).map { $0.name.lowercased() }
        #expect(!names.contains { ["cc", "bcc", "apparently-to"].contains($0) || $0.hasPrefix("resent-") })
    }

    @Test("the list's From is the display name and address, and Reply-To the bare address")
    func fromAndReplyTo() throws {
        let fields = Self.headers(try Self.render(Self.message()))
        #expect(fields.first { $0.name == "From" }?.value == "Example News <news@example.org>")
        #expect(fields.first { $0.name == "Reply-To" }?.value == "help@example.org")
    }

    // MARK: Subject

    @Test("a short printable ASCII subject is written as is")
    func asciiSubject() throws {
        let raw = try Self.render(Self.message(subject: "Please confirm your subscription"))
        #expect(Self.fieldLines("Subject", in: raw) == ["Subject: Please confirm your subscription"])
    }

    @Test("a Japanese subject becomes UTF-8 encoded-words of at most 75 characters that decode back exactly")
    func japaneseSubject() throws {
        let raw = try Self.render(Self.message(subject: Self.japaneseSubject))
        let lines = Self.fieldLines("Subject", in: raw)
        let words = Self.encodedWords(lines)
        #expect(words.count > 1)
        #expect(words.allSatisfy { $0.hasPrefix("=?UTF-8?B?") && $0.count <= 75 })
        let decoded = Self.decodedWords(lines)
        #expect(decoded.allSatisfy { $0 != nil })
        #expect(String(decoding: decoded.compactMap { $0 }.joined(), as: UTF8.self) == Self.japaneseSubject)
    }

    @Test("every Subject line is at most 76 characters, the first one including \"Subject: \"")
    func subjectLineLength() throws {
        let subject = String(repeating: Self.japaneseSubject, count: 3)
        let lines = Self.fieldLines("Subject", in: try Self.render(Self.message(subject: subject)))
        #expect(lines.count > 3)
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix(" =?UTF-8?B?") })
    }

    @Test("no encoded-word splits a grapheme: each decodes alone to valid UTF-8 holding whole characters",
          arguments: [
              String(repeating: "か\u{3099}", count: 40) + "👨‍👩‍👧‍👦" + String(repeating: "は\u{309A}", count: 20),
              String(repeating: "👩🏽‍💻🏳️‍🌈", count: 12),
              "a" + String(repeating: "e\u{301}\u{302}", count: 30) + String(repeating: "🇯🇵", count: 15),
          ])
    func graphemesStayWhole(subject: String) throws {
        let lines = Self.fieldLines("Subject", in: try Self.render(Self.message(subject: subject)))
        let words = Self.decodedWords(lines)
        #expect(words.count > 2)
        let texts = words.map { $0.flatMap { String(validating: $0, as: UTF8.self) } }
        #expect(texts.allSatisfy { $0 != nil }, "every word is valid UTF-8 on its own")
        // A split grapheme would show up as two Characters where the subject has one.
        #expect(texts.compactMap { $0 }.flatMap { Array($0) } == Array(subject))
    }

    @Test("an ASCII subject containing \"=?\" is encoded, so no client can decode it into other text")
    func encodedWordLookalike() throws {
        let subject = "=?UTF-8?B?5pys5b2T?= is not a subject"
        let lines = Self.fieldLines("Subject", in: try Self.render(Self.message(subject: subject)))
        #expect(!lines.joined().contains(subject))
        #expect(String(decoding: Self.decodedWords(lines).compactMap { $0 }.joined(), as: UTF8.self) == subject)
    }

    @Test("a control character or line separator in the subject is refused as header injection, never stripped",
          arguments: ["\r", "\n", "\r\nBcc: x@example.org", "\0", "\t", "\u{7F}", "\u{85}", "\u{2028}", "\u{2029}", "\u{1B}"])
    func subjectInjection(control: String) throws {
        let message = try Self.message(subject: "Please confirm" + control + "now")
        #expect(throws: MessageError.headerInjection(field: "Subject")) {
            try MIMERenderer.render(message)
        }
    }

    // MARK: Display names

    @Test("a Japanese display name in From is written as UTF-8 encoded-words that decode back to it")
    func japaneseDisplayName() throws {
        let raw = try Self.render(Self.message(from: "ニュースレター「週刊お知らせ」編集部 <news@example.org>"))
        let lines = Self.fieldLines("From", in: raw)
        #expect(lines.allSatisfy { line in line.utf8.allSatisfy { $0 < 0x80 } })
        #expect(lines.joined().hasSuffix(" <news@example.org>"))
        #expect(String(decoding: Self.decodedWords(lines).compactMap { $0 }.joined(), as: UTF8.self)
            == "ニュースレター「週刊お知らせ」編集部")
    }

    @Test("an ASCII display name is written as atoms when it can be, else as a quoted-string with escapes",
          arguments: [
              ("Example News <news@example.org>", "Example News <news@example.org>"),
              ("\"Example, Inc.\" <news@example.org>", "\"Example, Inc.\" <news@example.org>"),
              ("\"Say \\\"hi\\\" \\\\ bye\" <news@example.org>", "\"Say \\\"hi\\\" \\\\ bye\" <news@example.org>"),
          ])
    func asciiDisplayName(from: String, expected: String) throws {
        let fields = Self.headers(try Self.render(Self.message(from: from)))
        #expect(fields.first { $0.name == "From" }?.value == expected)
    }

    @Test("a control character in a display name is refused as header injection on From")
    func displayNameInjection() throws {
        // Mailbox already refuses such names, so the renderer's own check is reached
        // only through its validation step.
        for control in ["\r", "\n", "\0", "\u{2028}"] {
            #expect(throws: (any Error).self) { try Mailbox("\"News\(control)\" <news@example.org>") }
            #expect(throws: MessageError.headerInjection(field: "From")) {
                try MIMERenderer.validateHeaderValues(subject: "Hello", displayName: "News\(control)Bcc: x@example.org")
            }
        }
    }

    // MARK: Bodies

    @Test("with a 5,000-character line in the body every line is at most 998 octets and ends in CRLF",
          arguments: ["a", "あ"])
    func longLines(character: String) throws {
        let longLine = String(repeating: character, count: 5_000)
        let raw = try Self.render(Self.message(text: "Start\n" + longLine + "\nEnd\n", html: "<p>" + longLine + "</p>"))
        let (lines, stray) = Self.lines(raw)
        #expect(!stray, "no CR or LF outside a CRLF pair")
        #expect(raw.suffix(2) == [0x0D, 0x0A])
        #expect(lines.allSatisfy { $0.count <= 998 })
    }

    @Test("bare LF and bare CR in a body are sent as CRLF")
    func bodyLineBreaks() throws {
        let raw = try Self.render(Self.message(text: "one\ntwo\rthree\r\nfour"))
        #expect(!Self.lines(raw).strayBreaks)
        #expect(String(decoding: raw, as: UTF8.self).contains("\r\n\r\none\r\ntwo\r\nthree\r\nfour\r\n--=_"))
    }

    @Test("a part is 7bit when plain ASCII, base64 when mostly Japanese, quoted-printable when mostly ASCII",
          arguments: [
              ("Hello,\nplease confirm.\n", "7bit"),
              ("登録を確定するには、次のリンクを開いてください。\n", "base64"),
              ("Café opening hours are unchanged this week, see you soon.\n", "quoted-printable"),
              (String(repeating: "x", count: 999), "quoted-printable"),
          ])
    func transferEncodingChoice(text: String, expected: String) throws {
        let raw = String(decoding: try Self.render(Self.message(text: text)), as: UTF8.self)
        #expect(raw.contains("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: \(expected)\r\n"))
    }

    @Test("the text/plain part comes first and text/html second, both UTF-8, and the boundary starts with \"=_\"")
    func partOrder() throws {
        let raw = String(decoding: try Self.render(Self.message()), as: UTF8.self)
        let plain = try #require(raw.range(of: "Content-Type: text/plain; charset=UTF-8"))
        let html = try #require(raw.range(of: "Content-Type: text/html; charset=UTF-8"))
        #expect(plain.lowerBound < html.lowerBound)
        #expect(raw.contains("\r\n--=_"))
        #expect(raw.hasSuffix("--\r\n"))
    }

    // MARK: Independent parser

    struct PythonView: Decodable {
        struct Address: Decodable { let name: String; let addr: String }
        struct Part: Decodable { let type: String; let charset: String?; let text: String }
        let headerNames: [String]
        let to: [String]
        let from: [Address]
        let replyTo: [String]
        let subject: String
        let contentType: String
        let parts: [Part]
        let defects: [String]
    }

    static let pythonScript = """
        import sys, json, email.policy
        from email.parser import BytesParser
        msg = BytesParser(policy=email.policy.strict).parsebytes(sys.stdin.buffer.read())
        defects = [str(d) for d in msg.defects]
        for name, value in msg.items():
            defects += [name + ': ' + str(d) for d in getattr(value, 'defects', ())]
        parts = []
        for part in msg.iter_parts():
            defects += [str(d) for d in part.defects]
            parts.append({'type': part.get_content_type(), 'charset': part.get_content_charset(), 'text': part.get_content()})
        print(json.dumps({
            'headerNames': list(msg.keys()),
            'to': [a.addr_spec for a in msg['To'].addresses],
            'from': [{'name': a.display_name, 'addr': a.addr_spec} for a in msg['From'].addresses],
            'replyTo': [a.addr_spec for a in msg['Reply-To'].addresses] if msg['Reply-To'] else [],
            'subject': str(msg['Subject']),
            'contentType': msg.get_content_type(),
            'parts': parts,
            'defects': defects,
        }))
        """

    /// Runs /usr/bin/python3 on the message (on stdin) and decodes what it printed.
    static func pythonView(of raw: [UInt8]) throws -> PythonView {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", pythonScript]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Python reads all of stdin before printing, so writing first cannot deadlock.
        try input.fileHandleForWriting.write(contentsOf: Data(raw))
        try input.fileHandleForWriting.close()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 failed: \(String(decoding: complaint, as: UTF8.self))")
        return try JSONDecoder().decode(PythonView.self, from: printed)
    }

    @Test("Python's email package with policy=strict reads the same From, To, Subject and part texts without defects")
    func pythonReadsTheMessage() throws {
        let text = "田中様\n\nニュースレター「週刊お知らせ」への登録を確定するには、次のリンクを開いてください。\nhttps://lists.example.org/confirm/TOKEN\n"
        let html = "<p>Caf\u{E9} \u{2014} a mostly English part with one line long enough to need a soft line break in quoted-printable encoding.</p>\n"
        let message = try Self.message(
            subject: Self.japaneseSubject, text: text, html: html,
            from: "ニュースレター編集部 <news@example.org>", to: "taro@example.jp")
        let raw = try Self.render(message)
        #expect(String(decoding: raw, as: UTF8.self).contains("Content-Transfer-Encoding: base64"))
        #expect(String(decoding: raw, as: UTF8.self).contains("Content-Transfer-Encoding: quoted-printable"))

        let view = try Self.pythonView(of: raw)
        #expect(view.defects == [])
        #expect(view.headerNames == [
            "Date", "From", "To", "Reply-To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type",
        ])
        #expect(view.to == ["taro@example.jp"])
        #expect(view.from.map(\.name) == ["ニュースレター編集部"])
        #expect(view.from.map(\.addr) == ["news@example.org"])
        #expect(view.replyTo == ["help@example.org"])
        #expect(view.subject == Self.japaneseSubject)
        #expect(view.contentType == "multipart/alternative")
        #expect(view.parts.map(\.type) == ["text/plain", "text/html"])
        #expect(view.parts.map(\.charset) == ["utf-8", "utf-8"])
        // The bodies went out with CRLF line ends, and Python hands them back as they came.
        let crlf = { (text: String) in text.replacingOccurrences(of: "\n", with: "\r\n") }
        #expect(view.parts.map(\.text) == [crlf(text), crlf(html)])
    }

    // MARK: Transfer encodings


    /// Text mixing the cases QP must get right: "=", blanks before line ends, CRLF and
    /// lone LF, long runs, Japanese and emoji.
    static func generatedTexts(count: Int) -> [[UInt8]] {
        let pieces = ["a", "Z", "0", " ", "\t", "=", ".", "-", "\r\n", "\n", "\r", " \r\n", "é", "あ", "漢字", "😀",
                      String(repeating: "x", count: 90), String(repeating: "=", count: 30), "~", "\0"]
        var generator = SeededGenerator(state: 2026)
        return (0..<count).map { _ in
            let length = Int.random(in: 0...120, using: &generator)
            let text = (0..<length).map { _ in pieces.randomElement(using: &generator) ?? "" }.joined()
            return Array(text.utf8)
        }
    }

    @Test("quoted-printable round-trips generated text, with encoded lines of at most 76 printable characters")
    func quotedPrintableRoundTrip() {
        for original in Self.generatedTexts(count: 48) {
            let encoded = QuotedPrintable.encode(original)
            #expect(QuotedPrintable.decode(encoded) == original)
            let (lines, stray) = Self.lines(encoded)
            #expect(!stray)
            #expect(lines.allSatisfy { $0.count <= 76 })
            #expect(lines.allSatisfy { line in line.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 } })
            #expect(lines.allSatisfy { $0.last != 0x20 && $0.last != 0x09 }, "no trailing blanks")
        }
    }

    @Test("base64 round-trips generated bytes, in lines of at most 76 characters")
    func base64RoundTrip() {
        var generator = SeededGenerator(state: 5322)
        for _ in 0..<48 {
            let original = (0..<Int.random(in: 0...400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = MIMEBase64.encode(original)
            #expect(MIMEBase64.decode(encoded) == original)
            #expect(Data(base64Encoded: Data(encoded), options: .ignoreUnknownCharacters).map { Array($0) } == original)
            #expect(Self.lines(encoded).lines.allSatisfy { $0.count <= 76 })
        }
    }

    @Test("base64 is byte for byte Foundation's, wrapped at 76 with CRLF, for every length up to 400")
    func base64MatchesFoundation() {
        var generator = SeededGenerator(state: 2045)
        for length in 0...400 {
            let original = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Data(original).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            #expect(String(decoding: MIMEBase64.encode(original), as: UTF8.self) == expected, "length \(length)")
            #expect(String(decoding: MIMEBase64.encodeUnwrapped(original), as: UTF8.self) == Data(original).base64EncodedString(),
                    "length \(length), one line")
        }
    }

    // MARK: Message-ID

    @Test("MessageID.make gives 32 random hex digits at the given domain")
    func messageIDMake() {
        let first = MessageID.make(domain: "example.org")
        let second = MessageID.make(domain: "example.org")
        #expect(first != second)
        #expect(first.value.wholeMatch(of: /<[0-9a-f]{32}@example\.org>/) != nil)
        #expect(MessageID(first.value) == first)
    }

    @Test("MessageID refuses values that are not <left@right> without spaces, controls or extra brackets",
          arguments: ["abc@example.org", "<abc@example.org", "<abc example@example.org>", "<abc@exa\r\nmple.org>",
                      "<a<b@example.org>", "<abc@@example.org>", "<abc>", "<@example.org>", "<abc@>", "<a\0b@example.org>"])
    func messageIDRefused(value: String) {
        #expect(MessageID(value) == nil)
    }
}
