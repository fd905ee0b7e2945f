// Mail benchmark: queue N rendered confirmation mails in a fresh database, then time
// the outbox worker delivering all of them to the SMTP server at the given URL.
// Usage: MailBenchmark DB_PATH SMTP_URL COUNT   (bench/mail.sh runs it; see `make bench`)
import Foundation
import ListgateCore
import ListgateSQLite
import ListgateMail
import Logging

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: MailBenchmark DB_PATH SMTP_URL COUNT\n".utf8))
    exit(2)
}
let (path, url) = (arguments[1], arguments[2])

let store = try SQLiteStore(path: path)
_ = try await store.migrate()
let list = try await store.createList(
    NewList(slug: ListSlug("bench"), name: "ベンチマーク", from: Mailbox("Bench <bench@example.org>"), locale: .ja),
    source: .cli)
let composer = try await AutoReplyComposer.bundled()

let queueStart = ContinuousClock.now
for index in 0..<count {
    let reply = AutoReply(
        kind: .confirmation, list: list, recipient: try Recipient(EmailAddress("reader\(index)@example.net")),
        links: .init(confirm: "http://127.0.0.1:8080/confirm/token\(index)", block: "http://127.0.0.1:8080/block/token\(index)"))
    _ = try await store.enqueue(try composer.outboxMessage(reply))
}
let queueSeconds = (ContinuousClock.now - queueStart).seconds

var policy = OutboxPolicy()
// Above the count, and above it for confirmations too (a fifth of the ceiling is kept for
// leavers): the ceiling is tested elsewhere; here it would hold mail by design.
policy.ceilingPerMinute = count * 5 / 4 + 5
policy.batchSize = 100
var logger = Logger(label: "bench")
logger.logLevel = .error
if ProcessInfo.processInfo.environment["BENCH_TRANSPORT_ONLY"] != nil {
    // Diagnosis: the same messages straight through the transport, no outbox.
    let transport = try CurlSMTPTransport(url: url)
    let start = ContinuousClock.now
    for message in try await store.claimDueMessages(now: Date(), limit: count) {
        try await transport.send(message.raw, from: list.from.address, to: Recipient(EmailAddress(message.recipient)))
    }
    let seconds = (ContinuousClock.now - start).seconds
    print(String(format: "transport only: %d in %.2f s = %.0f messages/s", count, seconds, Double(count) / seconds))
    exit(0)
}
let transport = try TransportConfiguration.make(url: url, username: nil, password: nil)  // what `serve` uses
let worker = OutboxWorker(store: store, transport: transport, policy: policy, logger: logger)
let sendStart = ContinuousClock.now
try await worker.drain()
let sendSeconds = (ContinuousClock.now - sendStart).seconds
let sent = try await store.outboxSummary().counts[.sent] ?? 0
guard sent == count else {
    FileHandle.standardError.write(Data("only \(sent) of \(count) messages were sent\n".utf8))
    exit(1)
}
print(String(format: "listgate: queued %d in %.2f s; delivered %d in %.2f s = %.0f messages/s", count, queueSeconds, sent, sendSeconds, Double(sent) / sendSeconds))

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
