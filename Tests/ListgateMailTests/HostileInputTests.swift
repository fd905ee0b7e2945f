// Specification of the reader on hostile input, the kind anyone can post to the preflight
// (up to 10 MiB): each shape that once cost time or memory out of proportion (millions of
// short lines nested deep, a header folded 100,000 times, 10 MiB of at signs or of
// quoted-printable soft breaks, base64 broken at its very end, half a million distinct
// addresses, a header of thousands of encoded-words) gets its verdict and its reason.
// Timing is not asserted here; PreflightBenchmark measures it, in a release build.

import Foundation
import ListgateCore
@testable import ListgateMail
import Testing

@Suite("Hostile input")
struct HostileInputTests {
    typealias Fixture = ContentGuardTests

    static func reason(_ raw: [UInt8]) throws -> String? {
        Fixture.reason(try Fixture.contentGuard.check(raw))
    }

    /// `line` CRLF, `count` times.
    static func lines(_ line: String, count: Int) -> String {
        String(repeating: line + "\r\n", count: count)
    }

    // MARK: Structure

    @Test("a million short lines nested eight deep are read, and pass")
    func millionLinesNestedEightDeep() throws {
        var entity = Fixture.textPart(Self.lines("a", count: 1_000_000))
        for level in 0..<7 {
            entity = "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n\(entity)\r\n--b\(level)--"
        }
        let raw = Fixture.handWrittenMultipart(parts: [entity])
        #expect(try Self.reason(raw) == nil)
        let reading = try MessageReading.read(raw)
        #expect(reading.parts == [ReadPart(index: 1, mediaType: "text/plain", isScanned: true)])
    }

    @Test("a multipart body cut at its delimiters keeps preamble, parts and epilogue apart")
    func delimitedBody() throws {
        let body = Array("preamble\r\n--b\r\n\r\none\r\n--b\r\n--b  \r\nX: y\r\n\r\ntwo\r\n--b--\t\r\nepilogue\r\n".utf8)
        let split = BodyReader.DelimitedBody.split(body[...], delimiter: Array("--b".utf8))
        #expect(split.closed)
        #expect(split.partCount == 3)
        #expect(String(decoding: body[split.preamble], as: UTF8.self) == "preamble")
        #expect(split.parts.map { String(decoding: body[$0], as: UTF8.self) } == ["\r\none", "", "X: y\r\n\r\ntwo"])
        #expect(String(decoding: body[split.epilogue], as: UTF8.self) == "epilogue\r\n")
    }

    @Test("a multipart body that starts with its delimiter and ends with the close has empty preamble and epilogue")
    func delimitedBodyAtTheEdges() throws {
        let body = Array("--b\r\n\r\none\r\n--b--".utf8)
        let split = BodyReader.DelimitedBody.split(body[...], delimiter: Array("--b".utf8))
        #expect(split.closed)
        #expect(split.preamble.isEmpty && split.epilogue.isEmpty)
        #expect(split.parts.map { String(decoding: body[$0], as: UTF8.self) } == ["\r\none"])
    }

    @Test("100,000 parts without a closing delimiter fail as unclosed, and keep no more than 1,001 parts")
    func unclosedPartsAreNotKept() throws {
        let body = Array(Self.lines("--b\r\n\r\nx", count: 100_000).utf8)
        let split = BodyReader.DelimitedBody.split(body[...], delimiter: Array("--b".utf8))
        #expect(!split.closed)
        #expect(split.parts.count == BodyReader.maximumParts + 1)
        let raw = Fixture.handWritten(encoding: "7bit", body: "")
        let text = String(decoding: raw, as: UTF8.self)
            .replacingOccurrences(of: "text/plain; charset=UTF-8", with: "multipart/mixed; boundary=\"b\"")
        #expect(try Self.reason(Array(text.utf8) + body) == "a multipart entity has no closing boundary")
    }

    @Test("a header folded into 100,000 lines is read as one field")
    func headerFoldedIntoManyLines() throws {
        let folded = "X-Note: start" + String(repeating: "\r\n xxxxxxx", count: 100_000)
        let raw = Fixture.handWritten(headers: [folded], encoding: "7bit", body: "Hello\r\n")
        #expect(try Self.reason(raw) == nil)
        let note = try #require(try MessageReading.read(raw).fields.first { $0.lowercasedName == "x-note" })
        #expect(note.value.utf8.count == 5 + 100_000 * 8)
    }

    @Test("a header section of millions of short lines fails as over 1 MiB")
    func headerOfManyShortLines() throws {
        let raw = Array(Self.lines("X: y", count: 2_000_000).utf8) + (try Fixture.rendered())
        #expect(try Self.reason(raw) == "a header section is larger than 1 MiB")
    }

    // MARK: Bodies

    @Test("10 MiB of at signs hold no address, and pass")
    func atSigns() throws {
        let raw = Fixture.handWritten(encoding: "8bit", body: Self.lines(String(repeating: "@", count: 998), count: 10_400))
        #expect(raw.count > 10_000_000)
        #expect(try Self.reason(raw) == nil)
    }

    @Test("10 MiB of at signs after escaped quotes hold no address, and pass")
    func escapedQuotes() throws {
        let raw = Fixture.handWritten(encoding: "8bit", body: Self.lines(String(repeating: "\\\"@", count: 332), count: 10_500))
        #expect(raw.count > 10_000_000)
        #expect(try Self.reason(raw) == nil)
    }

    @Test("a quoted local part is read up to 130 scalars back, within its line, from an unescaped quote")
    func quotedLocalParts() throws {
        func texts(_ text: String) -> [String] { AddressScanner.tokens(in: text).map(\.text) }
        #expect(texts("see \"a b\"@x.example and \"c\"@y.example") == ["\"a b\"@x.example", "\"c\"@y.example"])
        let longest = "\"" + String(repeating: "a", count: 128) + "\"@x.example"
        #expect(texts(longest) == [longest])
        #expect(texts("\"" + String(repeating: "a", count: 129) + "\"@x.example").isEmpty)
        #expect(texts("\"" + String(repeating: "あ", count: 128) + "\"@x.example").count == 1)
        #expect(texts("\"" + String(repeating: "あ", count: 129) + "\"@x.example").isEmpty)
        #expect(texts("\"a\r\nb\"@x.example").isEmpty)
        #expect(texts("\\\"a\"@x.example").isEmpty)
    }

    @Test("10 MiB of quoted-printable soft breaks decode to nothing, and pass")
    func softBreaks() throws {
        let raw = Fixture.handWritten(encoding: "quoted-printable", body: Self.lines("=", count: 3_400_000))
        #expect(raw.count > 10_000_000)
        #expect(try Self.reason(raw) == nil)
    }

    @Test("quoted-printable decodes soft breaks, trailing blanks and escapes line by line",
          arguments: [("a=\r\nb", "ab"), ("a \t\r\nb", "a\r\nb"), ("=41=\r\n=42\r\n", "AB\r\n"), ("=\r\n=\r\n", ""),
                      ("", ""), ("x=", "x"), ("a\r\n\r\nb", "a\r\n\r\nb")])
    func quotedPrintableLines(encoded: String, decoded: String) throws {
        #expect(QuotedPrintable.decode(Array(encoded.utf8)) == Array(decoded.utf8))
    }

    @Test("quoted-printable with a bad escape, a raw control or a lone line break does not decode",
          arguments: ["=4", "a=G1", "a\u{1}b", "a\rb", "a\nb", "=\r\n=\n"])
    func quotedPrintableRefusals(encoded: String) throws {
        #expect(QuotedPrintable.decode(Array(encoded.utf8)) == nil)
    }

    @Test("10 MiB of base64 with a bad character at the very end fails the message")
    func base64BrokenAtTheEnd() throws {
        // Whole groups of four throughout: only the last group's "*" is wrong.
        let body = Self.lines(String(repeating: "QUJD", count: 19), count: 134_999)
            + String(repeating: "QUJD", count: 18) + "QU*D\r\n"
        let raw = Fixture.handWritten(encoding: "base64", body: body)
        #expect(raw.count > 10_000_000)
        #expect(try Self.reason(raw) == "a base64 part does not decode")
    }

    // MARK: Addresses

    @Test("past 100,000 distinct foreign addresses each further one is counted where it occurs")
    func tallyBound() throws {
        let kept = (0..<ForeignAddressTally.maximumKept).map { "u\($0)@d.example" }
        // Past the bound a repeat of a new address is counted again; a repeat of a kept one is not.
        let beyond = ["late@d.example", "late@d.example", "later@d.example", kept[0]]
        let raw = Fixture.handWritten(encoding: "8bit", body: (kept + beyond).joined(separator: "\r\n") + "\r\n")
        #expect(try Self.reason(raw) == "the body contains 100003 addresses other than the recipient and the list's own")
    }

    @Test("up to 100,000 distinct foreign addresses are counted exactly, repeats once")
    func tallyExactUpToTheBound() throws {
        let kept = (0..<ForeignAddressTally.maximumKept).map { "u\($0)@d.example" }
        let raw = Fixture.handWritten(encoding: "8bit", body: (kept + kept.prefix(10)).joined(separator: "\r\n") + "\r\n")
        #expect(try Self.reason(raw) == "the body contains 100000 addresses other than the recipient and the list's own")
    }

    @Test("the preflight says when it counted past the bound, and looks up only the kept addresses")
    func preflightPastTheBound() async throws {
        let kept = (0..<ForeignAddressTally.maximumKept).map { "u\($0)@d.example" }
        let store = FakePreflightStore(members: [PreflightTests.member], subscribed: ["u1@d.example", "late@d.example"])
        let raw = PreflightTests.newsletter(text: (kept + ["late@d.example"]).joined(separator: "\n") + "\n" + PreflightTests.footer)
        let report = try await PreflightTests.check(raw, store: store)
        #expect(report.foreignAddresses == 100_001)
        #expect(report.subscriberAddresses == 1)
        #expect(await store.keysAsked == 100_000)
        #expect(report.problems.first?.message == "the body part 1 (text/plain) contains 100,001 addresses other than the "
            + "recipient and the list's own; 1 of them is a subscriber of this list (past 100,000 addresses, each further "
            + "one is counted where it occurs and is not looked up among the subscribers)")
    }

    @Test("a non-ASCII reading is parsed once however often it recurs")
    func readingParsedOnce() throws {
        var keys = TokenKeys(maximumParses: 1)
        #expect(keys.identityKey(ofWide: "太郎@例え.jp") == "太郎@xn--r8jz45g.jp")
        #expect(keys.identityKey(ofWide: "太郎@例え.jp") == "太郎@xn--r8jz45g.jp")
        #expect(keys.key(of: "太郎@例え.jp") == "太郎@xn--r8jz45g.jp")
    }

    @Test("past the parse bound a non-ASCII reading is taken not to parse")
    func parseBound() throws {
        var keys = TokenKeys(maximumParses: 1)
        _ = keys.identityKey(ofWide: "太郎@例え.jp")
        #expect(keys.identityKey(ofWide: "花子@例え.jp") == nil)
        #expect(keys.key(of: "花子@例え.JP") == "花子@例え.jp")
        #expect(keys.knownKey(of: "花子@例え.jp") == nil)
        #expect(keys.key(of: "Hanako@Example.JP") == "hanako@example.jp")
    }

    @Test("keys through the cache equal the token's own keys")
    func cachedKeysEqualTokenKeys() throws {
        var keys = TokenKeys()
        let text = "お問い合わせは鈴木hanako@例え.jpまで、Taro@Example.JP、太郎@ＥＸＡＭＰＬＥ.jp"
        for token in AddressScanner.tokens(in: text) {
            #expect(keys.key(of: token.text) == token.key)
            #expect(keys.candidateKeys(of: token) == token.candidateKeys)
        }
    }

    // MARK: Charsets

    @Test("a header of 2,000 ISO-2022-JP encoded-words between plain words decodes each of them")
    func manyLegacyEncodedWords() throws {
        // "こんにちは" in ISO-2022-JP, base64.
        let word = "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?="
        let value = Array(repeating: word, count: 2_000).joined(separator: " x ")
        let decoded = try #require(EncodedWord.decodeHeaderValue(value))
        #expect(decoded == Array(repeating: "こんにちは", count: 2_000).joined(separator: " x "))
    }

    @Test("a converter reused after a text that ends shifted reads the next one from the initial state")
    func reusedConverterIsReset() throws {
        let decoders = CharsetDecoders()
        // "こ" in JIS X 0208, without the shift back to ASCII.
        #expect(decoders.decode([0x1B, 0x24, 0x42, 0x24, 0x33], from: "ISO-2022-JP") == "こ")
        #expect(decoders.decode(Array("abc".utf8), from: "ISO-2022-JP") == "abc")
        // A character cut off at the end is not carried into the next text.
        #expect(decoders.decode([0x82], from: "CP932") == nil)
        #expect(decoders.decode([0x41], from: "CP932") == "A")
    }

    // MARK: Sender identity

    @Test("half-width katakana with voiced marks show the identity written in full-width kana")
    func halfWidthKatakana() throws {
        let check = SenderIdentityCheck(parts: [("text/plain", "株式会社ｶﾞｲﾄﾞﾌﾞｯｸ\r\n〒１００－０００１")])
        #expect(check.shows("株式会社ガイドブック"))
        #expect(check.shows("〒100-0001"))
        #expect(!check.shows("株式会社ガイドフック"))
    }

    @Test("the identity is compared through NFKC beyond the half-width forms")
    func compatibilityForms() throws {
        // ① is 1, and カ followed by a combining voiced mark is ガ.
        let check = SenderIdentityCheck(parts: [("text/html", "<p>千代田&#x2460;-１ &#12459;&#12441;ビル</p>")])
        #expect(check.shows("千代田1-1"))
        #expect(check.shows("ガビル"))
    }

    @Test("white space of every kind is ignored, and only white space")
    func whiteSpace() throws {
        #expect(SenderIdentityCheck.normalised("a\u{3000}b\tc\r\nd\u{A0}e\u{1C}f") == "abcde\u{1C}f")
    }

    @Test("a substring is found octet for octet, and not found across a near miss")
    func substringSearch() throws {
        let haystack = String(repeating: "株式会社サンプ", count: 10_000) + "株式会社サンプル"
        #expect(SenderIdentityCheck.contains(haystack, "株式会社サンプル"))
        #expect(!SenderIdentityCheck.contains(String(repeating: "株式会社サンプ", count: 10_000), "株式会社サンプル"))
        #expect(SenderIdentityCheck.contains("abc", ""))
        #expect(!SenderIdentityCheck.contains("", "a"))
    }

    @Test("a 10 MiB part of half-width katakana without the identity fails for the identity, not the structure")
    func largeHalfWidthPart() async throws {
        let line = String(repeating: "ｶﾞｲﾄﾞﾗｲﾝ１２３", count: 20) + "\n"
        let text = String(repeating: line, count: (Preflight.maximumOctets - 200_000) / line.utf8.count)
        let link = "配信停止: \(PreflightTests.unsubscribeLink)\n"
        let report = try await PreflightTests.check(PreflightTests.newsletter(text: text + link, html: "<p>\(link)</p>"))
        #expect(report.problemCodes == ["legal_name_missing", "postal_address_missing", "contact_missing"])
    }
}
