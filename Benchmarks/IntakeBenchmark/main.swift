// Intake benchmark: the subscribe path of the core alone, without HTTP. LANES tasks post
// COUNT distinct addresses straight to `Intake.requestSubscription` on a fresh database,
// so each one renders, signs, checks and commits exactly as a form post does. Set
// against `POST /lists/bench/subscribe` in the same run (bench/forms.sh), it shows how
// much of a post's cost is the core and storage, and how much is HTTP.
// Usage: IntakeBenchmark DB_PATH COUNT LANES
import Foundation
import ListgateCore
import ListgateSQLite
import ListgateMail

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[2]), let lanes = Int(arguments[3]), count > 0, lanes > 0 else {
    FileHandle.standardError.write(Data("usage: IntakeBenchmark DB_PATH COUNT LANES\n".utf8))
    exit(2)
}
// As `listgate serve` runs it: checkpoints off the writer (LISTGATE_BENCH_CHECKPOINTS=commits
// for SQLite's own way, to compare).
let inCommits = ProcessInfo.processInfo.environment["LISTGATE_BENCH_CHECKPOINTS"] == "commits"
let store = try SQLiteStore(path: arguments[1], checkpoints: inCommits ? .inCommits : .inBackground)
let checkpointer = try LogCheckpointer(path: arguments[1])
let checkpoints = Task { if !inCommits { await checkpointer.run() } }
_ = try await store.migrate()
let list = try await store.createList(
    NewList(slug: ListSlug("bench"), name: "ベンチマーク", from: Mailbox("Bench <bench@example.org>"), locale: .ja),
    source: .cli)
let intake = Intake(
    store: store, renderer: try await AutoReplyComposer.bundled(),
    links: LinkBuilder(signer: TokenSigner(secret: try await store.secretKey()), baseURL: "http://127.0.0.1:8080"))
let origin = RequestOrigin(route: "form", clientIP: "192.0.2.10", userAgent: "IntakeBenchmark")

let start = ContinuousClock.now
let mailed = try await withThrowingTaskGroup(of: Int.self) { group in
    for lane in 0..<lanes {
        group.addTask {
            var mailed = 0
            for index in stride(from: lane, to: count, by: lanes) {
                let outcome = try await intake.requestSubscription(
                    list: list, email: "reader\(index)@example.net", name: "読者 \(index)", origin: origin)
                if outcome == .mailed { mailed += 1 }
            }
            return mailed
        }
    }
    var total = 0
    for try await mailed in group { total += mailed }
    return total
}
let elapsed = ContinuousClock.now - start
checkpoints.cancel()
guard mailed == count else {
    FileHandle.standardError.write(Data("only \(mailed) of \(count) requests queued a confirmation\n".utf8))
    exit(1)
}
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(String(format: "%.0f", Double(count) / seconds))
