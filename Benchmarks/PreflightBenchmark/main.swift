// Guard benchmark: the time the content guard (the outbox's check) and the preflight's
// judgement (with an in-memory stand-in for the store, so only ListgateMail is timed)
// take over a rendered newsletter carrying a pasted address file. Usage:
// PreflightBenchmark [RUNS]. The store's lookup is timed by bench/preflight.sh.
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

let runs = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 10 : 10

/// A multipart/alternative message whose text part lists `count` addresses, padded to `octets`.
func newsletter(addresses: [String], octets: Int) -> [UInt8] {
    var text = "購読者一覧\r\n" + addresses.joined(separator: "\r\n") + "\r\n"
    let filler = String(repeating: "今月のお知らせです。", count: 8) + "\r\n"
    while text.utf8.count + filler.utf8.count < octets { text += filler }
    let head = [
        "Date: Sat, 21 Nov 2026 15:42:08 +0900", "From: news@example.org", "To: taro@example.jp",
        "Subject: =?UTF-8?B?44GK55+l44KJ44Gb?=", "Message-ID: <bench@example.org>", "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"b\"",
    ].joined(separator: "\r\n")
    let body = "--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
        + "--b\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>x</p>\r\n--b--\r\n"
    return Array((head + "\r\n\r\n" + body).utf8)
}

func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }
func ms(_ duration: Duration) -> String {
    String(format: "%.1f ms", Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15)
}

let list = try MailingList(
    id: 1, slug: ListSlug("news"), name: "ニュース", from: Mailbox("news@example.org"), replyTo: nil, locale: .ja,
    allowedAddresses: [], createdAt: Date())
let snapshot = AudienceSnapshot(id: "snp_bench", listSlug: "news", listID: 1, count: 1, sha256: "", createdAt: Date(), erased: 0)
let links = LinkBuilder(signer: TokenSigner(secret: "bench"), baseURL: "https://lists.example.org")
let contentGuard = ContentGuard(recipient: try EmailAddress("taro@example.jp"), allowed: [try EmailAddress("news@example.org")])

for (count, octets) in [(13_011, 950_000), (50_000, 3_500_000), (50_000, 10 << 20 - 4_096)] {
    let addresses = (0..<count).map { "subscriber\($0)@customer\($0 % 97).example" }
    let raw = newsletter(addresses: addresses, octets: octets)
    let preflight = Preflight(store: MemoryPreflightStore(subscribed: Set(addresses)), links: links)
    var guardTimes: [Duration] = [], preflightTimes: [Duration] = []
    for _ in 0..<runs {
        let clock = ContinuousClock()
        guardTimes.append(clock.measure { _ = contentGuard.check(raw) })
        let start = clock.now
        let report = try await preflight.check(raw, snapshot: snapshot, list: list, source: .cli)
        preflightTimes.append(clock.now - start)
        precondition(report.foreignAddresses == count && report.subscriberAddresses == count)
    }
    let size = String(format: "%.2f MB", Double(raw.count) / 1e6)
    print("guard, \(size) with \(count) foreign addresses: median \(ms(median(guardTimes))), max \(ms(guardTimes.max()!))")
    print("preflight (no store), \(size) with \(count) subscriber addresses: median \(ms(median(preflightTimes))), max \(ms(preflightTimes.max()!))")
}
