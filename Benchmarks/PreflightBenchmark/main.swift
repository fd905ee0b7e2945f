// Guard benchmark: the time the content guard (the outbox's check) and the preflight's
// judgement (with an in-memory stand-in for the store, so only ListgateMail is timed)
// take over a rendered newsletter carrying a pasted address file, and over hostile
// messages of up to 10 MiB built to find superlinear or unbounded work in the reader.
// Usage: PreflightBenchmark [RUNS] [CASE...]; with no case every case runs. One case per
// process (`PreflightBenchmark 3 qp-soft-breaks` under `/usr/bin/time -v`) gives that
// case's peak RSS. The store's lookup is timed by bench/preflight.sh.
import Foundation
import ListgateCore
import ListgateMail

actor MemoryPreflightStore: PreflightStore {
    let subscribed: Set<String>
    init(subscribed: Set<String>) { self.subscribed = subscribed }
    func snapshotRecipient(snapshotID: String, identityKey: String) async throws -> SnapshotRecipient? {
        SnapshotRecipient(identityKey: identityKey, recipientID: "rcp_bench", subscriptionID: "sub_bench")
    }
    func subscribedKeys(listID: Int64, among identityKeys: [String]) async throws -> Set<String> {
        subscribed.intersection(identityKeys)
    }
    func newestSnapshotID(listID: Int64) async throws -> String? { "snp_bench" }
    func recordPreflight(_ record: PreflightRecord, source: EventSource) async throws {}
}

let arguments = Array(CommandLine.arguments.dropFirst())
let runs = arguments.first.flatMap { Int($0) } ?? 10
let selected = Set(arguments.drop { Int($0) != nil })

/// Just under the preflight's limit, so that every hostile case is read, not refused.
let budget = Preflight.maximumOctets - 4_096

let head = [
    "Date: Sat, 21 Nov 2026 15:42:08 +0900", "From: news@example.org", "To: taro@example.jp",
    "Subject: =?UTF-8?B?44GK55+l44KJ44Gb?=", "Message-ID: <bench@example.org>", "MIME-Version: 1.0",
]

/// A multipart/alternative message whose text part lists `count` addresses, padded to `octets`.
func newsletter(addresses: [String], octets: Int) -> [UInt8] {
    var text = "購読者一覧\r\n" + addresses.joined(separator: "\r\n") + "\r\n"
    let filler = String(repeating: "今月のお知らせです。", count: 8) + "\r\n"
    while text.utf8.count + filler.utf8.count < octets { text += filler }
    let body = "--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
        + "--b\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>x</p>\r\n--b--\r\n"
    return Array(((head + ["Content-Type: multipart/alternative; boundary=\"b\""]).joined(separator: "\r\n")
        + "\r\n\r\n" + body).utf8)
}

/// A single-part message: `fields` added to the header, `body` as it is.
func single(fields: [String] = [], contentType: String = "text/plain; charset=UTF-8", encoding: String = "8bit",
            body: [UInt8]) -> [UInt8] {
    let header = head + fields + ["Content-Type: \(contentType)", "Content-Transfer-Encoding: \(encoding)"]
    return Array((header.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
}

/// `line` + CRLF repeated to about `octets`.
func lines(_ line: String, octets: Int) -> [UInt8] {
    let one = Array((line + "\r\n").utf8)
    var body: [UInt8] = []
    body.reserveCapacity(octets)
    while body.count + one.count <= octets { body += one }
    return body
}

/// Multipart entities nested `depth` deep (the message is the first) around one text part
/// of `body`: every level's body holds every line of the levels below it.
func nested(depth: Int, body: [UInt8]) -> [UInt8] {
    var opening = "", closing = ""
    for level in 1..<depth {
        opening += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n"
        closing = "\r\n--b\(level)--" + closing
    }
    let header = (head + ["Content-Type: multipart/mixed; boundary=\"b0\""]).joined(separator: "\r\n")
    return Array((header + "\r\n\r\n--b0\r\n" + opening + "Content-Type: text/plain; charset=UTF-8\r\n\r\n").utf8)
        + body + Array((closing + "\r\n--b0--\r\n").utf8)
}

struct Case {
    let name: String
    /// Distinct foreign addresses the preflight must report, when known.
    let foreign: Int?
    let subscribed: Set<String>
    let raw: () -> [UInt8]
}

let addresses50k = (0..<50_000).map { "subscriber\($0)@customer\($0 % 97).example" }
var cases = [
    Case(name: "newsletter-0.95MB-13011", foreign: 13_011, subscribed: Set(addresses50k.prefix(13_011))) {
        newsletter(addresses: Array(addresses50k.prefix(13_011)), octets: 950_000)
    },
    Case(name: "newsletter-3.5MB-50000", foreign: 50_000, subscribed: Set(addresses50k)) {
        newsletter(addresses: addresses50k, octets: 3_500_000)
    },
    Case(name: "newsletter-10MiB-50000", foreign: 50_000, subscribed: Set(addresses50k)) {
        newsletter(addresses: addresses50k, octets: budget)
    },
    // 50,000 addresses with Japanese local parts and domains: every key needs a parse.
    Case(name: "newsletter-10MiB-50000-japanese", foreign: 50_000, subscribed: []) {
        newsletter(addresses: (0..<50_000).map { "購読者\($0)@会社\($0 % 97).example" }, octets: budget)
    },
    // As many short distinct addresses as fit: past the tally's bound, counted but not kept.
    Case(name: "distinct-addresses-10MiB", foreign: nil, subscribed: []) {
        var body: [UInt8] = []
        var number = 0
        while body.count < budget - 100 {
            body += Array("u\(number)@d.example\r\n".utf8)
            number += 1
        }
        return single(body: body)
    },
    Case(name: "distinct-japanese-addresses-10MiB", foreign: nil, subscribed: []) {
        var body: [UInt8] = []
        var number = 0
        while body.count < budget - 100 {
            body += Array("利用者\(number)@例え.jp\r\n".utf8)
            number += 1
        }
        return single(body: body)
    },
    Case(name: "nested-8-tiny-lines-10MiB", foreign: 0, subscribed: []) {
        nested(depth: 8, body: lines("a", octets: budget - 2_000))
    },
    Case(name: "tiny-lines-10MiB", foreign: 0, subscribed: []) { single(body: lines("a", octets: budget)) },
    Case(name: "nested-1000", foreign: nil, subscribed: []) { nested(depth: 1_000, body: Array("Hello".utf8)) },
    Case(name: "header-1MiB-folded-100000-lines", foreign: 0, subscribed: []) {
        let folded = "X-Note: start" + String(repeating: "\r\n xxxxxxx", count: 100_000)
        return single(fields: [folded], body: Array("Hello\r\n".utf8))
    },
    Case(name: "at-signs-10MiB", foreign: 0, subscribed: []) {
        single(body: lines(String(repeating: "@", count: 998), octets: budget))
    },
    // Every at sign after an escaped quote: each one sends the scanner back through the
    // quoted local part it might close, as far as it looks (130 scalars).
    Case(name: "escaped-quotes-10MiB", foreign: 0, subscribed: []) {
        single(body: lines(String(repeating: "\\\"@", count: 332), octets: budget))
    },
    Case(name: "qp-soft-breaks-10MiB", foreign: 0, subscribed: []) {
        single(encoding: "quoted-printable", body: lines("=", octets: budget))
    },
    Case(name: "base64-bad-end-10MiB", foreign: nil, subscribed: []) {
        var body = lines(String(repeating: "QUJD", count: 19), octets: budget)
        body[body.count - 3] = UInt8(ascii: "*")
        return single(encoding: "base64", body: body)
    },
    // Half-width katakana throughout, and no sender identity: the identity check must
    // normalise the whole part to look for it.
    Case(name: "halfwidth-katakana-10MiB", foreign: 0, subscribed: []) {
        single(body: lines(String(repeating: "ｶﾞｲﾄﾞﾗｲﾝ１２３", count: 20), octets: budget))
    },
    // 10,000 ISO-2022-JP encoded-words in one Subject, each decoded on its own (a plain
    // word stands between any two).
    Case(name: "iso-2022-jp-encoded-words-10000", foreign: 0, subscribed: []) {
        let word = "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?="
        let folded = "Subject: " + Array(repeating: word, count: 10_000).joined(separator: "\r\n x ")
        return single(fields: [folded], body: Array("Hello\r\n".utf8))
    },
]

let list = try MailingList(
    id: 1, slug: ListSlug("news"), name: "ニュース", from: Mailbox("news@example.org"), replyTo: nil, locale: .ja,
    allowedAddresses: [],
    senderIdentity: SenderIdentity(legalName: "株式会社サンプル", postalAddress: "〒100-0001 東京都千代田区千代田1-1",
                                   contact: try SenderContact("https://example.org/contact")),
    createdAt: Date())
let snapshot = AudienceSnapshot(
    id: "snp_bench", listSlug: "news", listID: 1, count: 1, sha256: "", createdAt: Date(), erased: 0,
    senderIdentity: list.senderIdentity)
let links = LinkBuilder(signer: TokenSigner(secret: "bench"), baseURL: "https://lists.example.org")
let contentGuard = ContentGuard(recipient: try EmailAddress("taro@example.jp"), allowed: [try EmailAddress("news@example.org")])

func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }
func ms(_ duration: Duration) -> String {
    String(format: "%.1f ms", Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15)
}

for benchmark in cases where selected.isEmpty || selected.contains(benchmark.name) {
    let raw = benchmark.raw()
    let preflight = Preflight(store: MemoryPreflightStore(subscribed: benchmark.subscribed), links: links)
    var guardTimes: [Duration] = [], preflightTimes: [Duration] = []
    var verdict = GuardVerdict.pass
    var report: PreflightReport?
    for _ in 0..<runs {
        let clock = ContinuousClock()
        guardTimes.append(clock.measure { verdict = contentGuard.check(raw) })
        let start = clock.now
        report = try await preflight.check(raw, snapshot: snapshot, list: list, source: .cli)
        preflightTimes.append(clock.now - start)
    }
    guard let report else { continue }
    if let foreign = benchmark.foreign {
        precondition(report.foreignAddresses == foreign, "\(benchmark.name): \(report.foreignAddresses) foreign addresses")
        precondition(report.subscriberAddresses == benchmark.subscribed.count)
    }
    let size = String(format: "%.2f MB", Double(raw.count) / 1e6)
    let outcome = switch verdict {
    case .pass: "pass"
    case .fail(let reason): "fail (\(reason.prefix(90)))"
    }
    print("\(benchmark.name), \(size): guard median \(ms(median(guardTimes))), max \(ms(guardTimes.max()!)); "
        + "preflight (no store) median \(ms(median(preflightTimes))), max \(ms(preflightTimes.max()!)); "
        + "guard \(outcome); preflight \(report.verdict.rawValue) [\(report.problemCodes.joined(separator: ","))], "
        + "\(report.foreignAddresses) foreign")
}
