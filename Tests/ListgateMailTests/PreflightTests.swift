// Specification of the preflight's judgement of one rendered newsletter, against an
// in-memory stand-in for the store (the stores' side is tested in the conformance
// suite): a correct Japanese newsletter passes; each problem has its code; foreign
// addresses are counted, place by place, with how many are subscribers of the list; the
// report never holds an address; the sender's identity is compared as a person reads it;
// and a 10 MiB message with 50,000 addresses is checked to the end.

import Foundation
import ListgateCore
@testable import ListgateMail
import Testing

/// The store's answers, from memory; records what the preflight recorded.
actor FakePreflightStore: PreflightStore {
    var members: [String: SnapshotRecipient]
    var subscribed: Set<String>
    private(set) var records: [PreflightRecord] = []
    private(set) var keysAsked = 0

    init(members: [SnapshotRecipient], subscribed: Set<String> = []) {
        self.members = Dictionary(uniqueKeysWithValues: members.map { ($0.identityKey, $0) })
        self.subscribed = subscribed
    }

    func snapshotRecipient(snapshotID: String, identityKey: String) async throws -> SnapshotRecipient? {
        snapshotID == PreflightTests.snapshotID ? members[identityKey] : nil
    }

    func subscribedKeys(listID: Int64, among identityKeys: [String]) async throws -> Set<String> {
        keysAsked += identityKeys.count
        return listID == PreflightTests.listID ? subscribed.intersection(identityKeys) : []
    }

    func newestSnapshotID(listID: Int64) async throws -> String? { PreflightTests.snapshotID }

    func recordPreflight(_ record: PreflightRecord, source: EventSource) async throws {
        records.append(record)
    }
}

@Suite("Preflight")
struct PreflightTests {
    static let listID: Int64 = 7
    static let snapshotID = "snp_0123456789abcdef"
    static let recipient = "taro@example.jp"
    static let member = SnapshotRecipient(identityKey: recipient, recipientID: "rcp_taro", subscriptionID: "sub_taro")
    static let baseURL = "https://lists.example.org"
    static let links = LinkBuilder(signer: TokenSigner(secret: "preflight-test-secret"), baseURL: baseURL)
    static var unsubscribeLink: String { links.unsubscribe(subscription: member.subscriptionID) }

    static let identity = SenderIdentity(
        legalName: "株式会社サンプル", postalAddress: "〒100-0001 東京都千代田区千代田1-1 サンプルビル5階",
        contact: try! SenderContact("https://example.org/contact"))

    static func list() throws -> MailingList {
        try MailingList(
            id: listID, slug: ListSlug("news"), name: "ニュース", from: Mailbox("news@example.org"),
            replyTo: EmailAddress("help@example.org"), locale: .ja, allowedAddresses: [],
            senderIdentity: identity, createdAt: Date(timeIntervalSince1970: 1_790_000_000))
    }

    static func snapshot(identity: SenderIdentity = identity) -> AudienceSnapshot {
        AudienceSnapshot(id: snapshotID, listSlug: "news", listID: listID, count: 1, sha256: String(repeating: "0", count: 64),
                         createdAt: Date(timeIntervalSince1970: 1_790_000_000), erased: 0, senderIdentity: identity)
    }

    static var footer: String {
        "株式会社サンプル\n〒100-0001 東京都千代田区千代田1-1 サンプルビル5階\nお問い合わせ: https://example.org/contact\n配信停止: \(unsubscribeLink)\n"
    }

    static var htmlFooter: String {
        "<p>株式会社サンプル<br>〒100-0001 東京都千代田区千代田1-1 サンプルビル5階<br>"
            + "<a href=\"https://example.org/contact\">お問い合わせ</a> https://example.org/contact<br>"
            + "<a href=\"\(unsubscribeLink)\">配信停止</a></p>"
    }

    /// A multipart/alternative newsletter as a sender's template renders it, CRLF, UTF-8.
    static func newsletter(
        to: String = recipient, from: String = "=?UTF-8?B?44OL44Ol44O844K5?= <news@example.org>",
        extraHeaders: [String] = [], unsubscribeHeader: String? = nil, postHeader: String? = "List-Unsubscribe=One-Click",
        text: String? = nil, html: String? = nil
    ) -> [UInt8] {
        var headers = [
            "Date: Sat, 21 Nov 2026 15:42:08 +0900",
            "From: \(from)",
            "To: \(to)",
            "Subject: =?UTF-8?B?44CQ44OL44Ol44O844K544CR5LuK5pyI44Gu44GK55+l44KJ44Gb?=",
            "Message-ID: <campaign-1.taro@mailer.example.org>",
            "MIME-Version: 1.0",
            "List-Unsubscribe: \(unsubscribeHeader ?? "<\(unsubscribeLink)>")",
        ]
        if let postHeader { headers.append("List-Unsubscribe-Post: \(postHeader)") }
        headers += extraHeaders
        headers.append("Content-Type: multipart/alternative; boundary=\"nl\"")
        let textBody = text ?? "田中様\n\n今月のお知らせです。\n\n" + footer
        let htmlBody = html ?? "<p>田中様</p><p>今月のお知らせです。</p>" + htmlFooter
        let body = "--nl\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + textBody.replacingOccurrences(of: "\n", with: "\r\n")
            + "\r\n--nl\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + htmlBody.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n--nl--\r\n"
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    static func foreign(_ count: Int, domain: String = "other-company.example") -> [String] {
        (0..<count).map { "member\($0)@\(domain)" }
    }

    static func check(
        _ raw: [UInt8], store: FakePreflightStore? = nil, identity: SenderIdentity = identity, baseURLKnown: Bool = true
    ) async throws -> PreflightReport {
        let store = store ?? FakePreflightStore(members: [member])
        return try await Preflight(store: store, links: links, baseURLKnown: baseURLKnown)
            .check(raw, snapshot: snapshot(identity: identity), list: list(), source: .cli)
    }

    static func json(_ report: PreflightReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    @Test("a snapshot of another list is refused before anything is read or recorded")
    func snapshotOfAnotherListIsRefused() async throws {
        let store = FakePreflightStore(members: [Self.member])
        let other = AudienceSnapshot(
            id: Self.snapshotID, listSlug: "other", listID: Self.listID + 1, count: 1, sha256: String(repeating: "0", count: 64),
            createdAt: Date(timeIntervalSince1970: 1_790_000_000), erased: 0, senderIdentity: Self.identity)
        await #expect(throws: PreflightMisuse.snapshotOfAnotherList) {
            try await Preflight(store: store, links: Self.links)
                .check(Self.newsletter(), snapshot: other, list: Self.list(), source: .cli)
        }
        #expect(await store.records.isEmpty)
    }

    // MARK: Passing

    @Test("a correct Japanese newsletter passes, naming the recipient by id")
    func correctNewsletterPasses() async throws {
        let store = FakePreflightStore(members: [Self.member])
        let report = try await Self.check(Self.newsletter(), store: store)
        #expect(report.problems == [])
        #expect(report.verdict == .pass)
        #expect(report.recipient == "rcp_taro")
        let records = await store.records
        #expect(records == [PreflightRecord(listID: Self.listID, snapshotID: Self.snapshotID, passed: true, problemCodes: [],
                                            foreignAddresses: 0, subscriberAddresses: 0, octets: Self.newsletter().count)])
    }

    @Test("a newsletter saved with LF line ends is read as CRLF, and says so")
    func lfOnlyIsNormalised() async throws {
        let lf = String(decoding: Self.newsletter(), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        let report = try await Self.check(Array(lf.utf8))
        #expect(report.verdict == .pass)
        #expect(report.lineEndingsNormalised)
    }

    @Test("the sender's identity is found through width and white space")
    func identityThroughNFKC() async throws {
        let text = "株式会社　サンプル\n〒１００－０００１ 東京都千代田区千代田１－１　サンプルビル５階\nhttps://example.org/contact\n配信停止: \(Self.unsubscribeLink)\n"
        #expect(try await Self.check(Self.newsletter(text: text, html: "<p>HTML版</p>")).problems == [])
    }

    @Test("the sender's identity is found in the HTML part alone, through tags and references")
    func identityInHTMLOnly() async throws {
        let html = "<p>株式会社<b>サンプル</b></p><p>&#12306;100-0001 東京都千代田区千代田1-1&nbsp;サンプルビル5階</p>"
            + "<p>https://example.org/contact</p><a href=\"\(Self.unsubscribeLink)\">配信停止</a>"
        #expect(try await Self.check(Self.newsletter(text: "今月のお知らせです。\n", html: html)).problems == [])
    }

    @Test("without a sender identity in the snapshot, none is asked for")
    func noIdentityNoCheck() async throws {
        let report = try await Self.check(
            Self.newsletter(text: "配信停止: \(Self.unsubscribeLink)\n", html: "<p>x</p>"), identity: SenderIdentity())
        #expect(report.problems == [])
    }

    @Test("without a base URL only the unsubscribe link's path must match")
    func pathOnlyWithoutBaseURL() async throws {
        let path = String(Self.unsubscribeLink.dropFirst(Self.baseURL.count))
        let raw = Self.newsletter(unsubscribeHeader: "<https://mail.example.org/news\(path)>")
        #expect(try await Self.check(raw, baseURLKnown: false).problems == [])
        #expect(try await Self.check(raw, baseURLKnown: true).problemCodes == ["list_unsubscribe_wrong"])
    }

    @Test("a List-Unsubscribe folded by MIME-encoding its URL is wrong, and the answer says it was encoded")
    func encodedListUnsubscribeIsNamed() async throws {
        // As Python's email package (policy.SMTP) writes a long URL: q-encoded, folded.
        let url = "<\(Self.unsubscribeLink)>"
        let encoded = url.utf8.map { byte -> String in
            let scalar = Unicode.Scalar(byte)
            return (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-/".unicodeScalars.contains(scalar))
                ? String(scalar) : "=" + String(byte, radix: 16, uppercase: true)
        }.joined()
        let report = try await Self.check(Self.newsletter(unsubscribeHeader: "=?utf-8?q?\(encoded)?="))
        #expect(report.problemCodes == ["list_unsubscribe_wrong"])
        #expect(report.problems.first?.message.contains("MIME-encoded") == true)
    }

    // MARK: Problems

    struct Case: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let raw: @Sendable () -> [UInt8]
        /// Whether the code is the only problem.
        var alone = true
    }

    static let cases: [Case] = [
        Case(testDescription: "not_a_message") { Array("hello".utf8) },
        Case(testDescription: "bare_line_break") { newsletter() + Array("x\ny\r\n".utf8) },
        Case(testDescription: "line_too_long") { newsletter(text: String(repeating: "x", count: 1_200) + "\n" + footer) },
        Case(testDescription: "header_not_utf8") { Array("X-Note: ".utf8) + [0xC3, 0x28, 0x0D, 0x0A] + newsletter() },
        Case(testDescription: "header_control") { Array("X-Note: a\u{85}b\r\n".utf8) + newsletter() },
        Case(testDescription: "mime_unreadable") {
            Array(String(decoding: newsletter(), as: UTF8.self).replacingOccurrences(of: "--nl--", with: "--nx--").utf8)
        },
        Case(testDescription: "unreadable_part") {
            let raw = String(decoding: newsletter(), as: UTF8.self).replacingOccurrences(
                of: "--nl--", with: "--nl\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--nl--")
            return Array(raw.utf8)
        },
        Case(testDescription: "to_not_one_address", raw: { newsletter(to: "\(recipient), news@example.org") }, alone: false),
        Case(testDescription: "recipient_not_in_snapshot", raw: { newsletter(to: "jiro@example.jp") }, alone: false),
        Case(testDescription: "copy_header") { newsletter(extraHeaders: ["Cc: news@example.org"]) },
        Case(testDescription: "foreign_addresses") { newsletter(text: "member0@other-company.example\n" + footer) },
        Case(testDescription: "from_not_list") { newsletter(from: "help@example.org") },
        Case(testDescription: "list_unsubscribe_missing") {
            Array(String(decoding: newsletter(), as: UTF8.self)
                .replacingOccurrences(of: "List-Unsubscribe: <\(unsubscribeLink)>\r\n", with: "").utf8)
        },
        Case(testDescription: "list_unsubscribe_wrong") {
            newsletter(unsubscribeHeader: "<\(links.unsubscribe(subscription: "sub_someone_else"))>")
        },
        Case(testDescription: "list_unsubscribe_post_missing") { newsletter(postHeader: nil) },
        Case(testDescription: "legal_name_missing") {
            newsletter(text: footer.replacingOccurrences(of: "株式会社サンプル", with: ""), html: "<p>x</p>")
        },
        Case(testDescription: "postal_address_missing") {
            newsletter(text: footer.replacingOccurrences(of: "千代田1-1", with: ""), html: "<p>x</p>")
        },
        Case(testDescription: "contact_missing") {
            newsletter(text: footer.replacingOccurrences(of: "https://example.org/contact", with: ""), html: "<p>x</p>")
        },
        Case(testDescription: "unsubscribe_link_missing") {
            newsletter(text: footer.replacingOccurrences(of: unsubscribeLink, with: ""), html: "<p>x</p>")
        },
    ]

    @Test("each problem fails the newsletter with its code", arguments: cases)
    func problemCode(problem: Case) async throws {
        let store = FakePreflightStore(members: [Self.member])
        let report = try await Self.check(problem.raw(), store: store)
        #expect(report.verdict == .fail)
        if problem.alone {
            #expect(report.problemCodes == [problem.testDescription])
        } else {
            #expect(report.problemCodes.contains(problem.testDescription))
        }
        // A failed check is recorded too, with its codes.
        #expect(await store.records.map(\.problemCodes) == [report.problemCodes])
        #expect(await store.records.map(\.passed) == [false])
    }

    @Test("a message over 10 MiB fails as too large, unread")
    func tooLarge() async throws {
        let raw = Self.newsletter(text: String(repeating: String(repeating: "x", count: 99) + "\n", count: 110_000))
        #expect(try await Self.check(raw).problemCodes == ["message_too_large"])
    }

    // MARK: Foreign addresses and subscribers

    @Test("300 foreign subscriber addresses are counted as subscribers, and the report holds no address")
    func threeHundredSubscribers() async throws {
        let addresses = Self.foreign(300)
        let store = FakePreflightStore(members: [Self.member], subscribed: Set(addresses))
        let raw = Self.newsletter(text: "購読者一覧:\n" + addresses.joined(separator: "\n") + "\n" + Self.footer)
        let report = try await Self.check(raw, store: store)
        #expect(report.verdict == .fail)
        #expect(report.foreignAddresses == 300)
        #expect(report.subscriberAddresses == 300)
        let problem = try #require(report.problems.first)
        #expect(problem.code == "foreign_addresses")
        #expect(problem.places == [PreflightPlace(place: "the body part 1 (text/plain)", addresses: 300, subscribers: 300)])
        #expect(problem.message == "the body part 1 (text/plain) contains 300 addresses other than the recipient "
            + "and the list's own; 300 of them are subscribers of this list")
        let json = try Self.json(report)
        #expect(!json.contains("@"))
        #expect(!json.contains("＠"))
        #expect(!json.contains("member"))
        #expect(!json.contains("other-company"))
        #expect(await store.records.first?.subscriberAddresses == 300)
        #expect(await store.records.first?.eventDetail.values.contains { $0.contains("@") } == false)
    }

    @Test("subscribers and strangers are counted apart, per place")
    func subscribersAndStrangersPerPlace() async throws {
        let subscribers = Self.foreign(3)
        let strangers = Self.foreign(2, domain: "elsewhere.example")
        let store = FakePreflightStore(members: [Self.member], subscribed: Set(subscribers))
        let raw = Self.newsletter(
            extraHeaders: ["X-Note: \(strangers[0])"],
            text: (subscribers + strangers).joined(separator: " ") + "\n" + Self.footer)
        let report = try await Self.check(raw, store: store)
        #expect(report.foreignAddresses == 5)
        #expect(report.subscriberAddresses == 3)
        #expect(report.problems.first?.places == [
            PreflightPlace(place: "the X-Note header", addresses: 1, subscribers: 0),
            PreflightPlace(place: "the body part 1 (text/plain)", addresses: 5, subscribers: 3),
        ])
        #expect(report.problems.first?.message.hasPrefix("the X-Note header contains 1 address other than the recipient "
            + "and the list's own; none of them is a subscriber of this list; ") == true)
    }

    @Test("a subscriber's address glued to Japanese prose counts as the subscriber's")
    func subscriberInProse() async throws {
        let store = FakePreflightStore(members: [Self.member], subscribed: ["hanako@other-company.example"])
        let raw = Self.newsletter(text: "鈴木hanako@other-company.exampleさんにも送りました。\n" + Self.footer)
        let report = try await Self.check(raw, store: store)
        #expect(report.foreignAddresses == 1)
        #expect(report.subscriberAddresses == 1)
    }

    @Test("addresses disguised in the HTML part are counted there", arguments: ["&#64;", "＠", "&#xFF20;", "%40"])
    func disguisedInHTML(at: String) async throws {
        let store = FakePreflightStore(members: [Self.member], subscribed: ["hanako@other-company.example"])
        let raw = Self.newsletter(html: "<p>hanako\(at)other-company.example</p>" + Self.htmlFooter)
        let report = try await Self.check(raw, store: store)
        #expect(report.problems.first?.places == [
            PreflightPlace(place: "the body part 2 (text/html)", addresses: 1, subscribers: 1),
        ])
    }

    @Test("the report's JSON shape")
    func jsonShape() async throws {
        let raw = Self.newsletter(to: "jiro@example.jp", text: "member0@other-company.example\n" + Self.footer)
        let report = try await Self.check(raw)
        #expect(try Self.json(report) == #"{"foreign_addresses":1,"line_endings_normalised":false,"#
            + #""problems":[{"code":"foreign_addresses","message":"the body part 1 (text/plain) contains 1 address other "#
            + #"than the recipient and the list's own; none of them is a subscriber of this list","#
            + #""places":[{"addresses":1,"place":"the body part 1 (text/plain)","subscribers":0}]},"#
            + #"{"code":"recipient_not_in_snapshot","message":"the To header's address is not a member of snapshot "#
            + #"snp_0123456789abcdef"}],"recipient":null,"subscriber_addresses":0,"unscanned_parts":0,"verdict":"fail"}"#)
    }

    // MARK: Size

    @Test("a 10 MiB message with 50,000 addresses is checked to the end")
    func largeMessage() async throws {
        let addresses = Self.foreign(50_000)
        let store = FakePreflightStore(members: [Self.member], subscribed: Set(addresses))
        var text = addresses.joined(separator: "\n") + "\n"
        let target = Preflight.maximumOctets - 100_000
        let fillerLine = String(repeating: "お知らせ", count: 20) + "\n"
        text += String(repeating: fillerLine, count: max(0, (target - text.utf8.count) / fillerLine.utf8.count))
        let raw = Self.newsletter(text: text + Self.footer)
        #expect(raw.count > 9 << 20 && raw.count <= Preflight.maximumOctets)
        let report = try await Self.check(raw, store: store)
        #expect(report.foreignAddresses == 50_000)
        #expect(report.subscriberAddresses == 50_000)
    }
}
