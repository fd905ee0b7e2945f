// The outbox worker: a service in the server process that claims due messages, checks
// each with the content guard, hands it to the transport, and records the outcome.
//
// Delivery is at-least-once. A message is marked `sent` after the SMTP server accepted
// it; the acceptance is noted in the DeliveryJournal first, the instant libcurl reports
// it, so a crash while the mark waits for the database does not send it again. A crash
// between the final "." and the server's answer leaves it in `sending` with nothing
// noted, and the next start puts it back in the queue, so it may be delivered twice —
// with the same Message-ID, which lets mail systems drop the duplicate. No crash can
// lose a queued message.
import CoreMetrics
import Foundation
import ListgateCore
import Logging
import ServiceLifecycle
import Synchronization

public struct OutboxWorker: Service {
    let store: any OutboxStore
    let transport: any MailTransport
    let policy: OutboxPolicy
    let logger: Logger
    let journal: DeliveryJournal?
    let ceilingNotice = CeilingNotice()
    /// Messages the SMTP server accepted whose `sent` mark could not be committed yet
    /// (a full disk): marked before anything else is sent, never queued again.
    let unrecorded = UnrecordedDeliveries()

    /// - Parameter journal: where accepted-but-unrecorded deliveries are noted so that a
    ///   crash does not send them again (see DeliveryJournal); nil: none.
    public init(
        store: any OutboxStore, transport: any MailTransport, policy: OutboxPolicy = OutboxPolicy(), logger: Logger,
        journal: DeliveryJournal? = nil
    ) {
        self.store = store
        self.transport = transport
        self.policy = policy
        self.logger = logger
        self.journal = journal
    }

    public func run() async throws {
        try await recoverFromPreviousStop()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let handled: Int
                do {
                    handled = try await runOnce()
                } catch is CancellationError {
                    return
                } catch {
                    // A database hiccup must not kill the worker; the messages stay queued.
                    logger.error("outbox pass failed", metadata: ["error": "\(error)"])
                    handled = 0
                }
                if handled == 0 { try? await Task.sleep(for: policy.pollInterval) }
            }
        }
    }

    /// Settles what a previous process left in `sending`: a message the journal says the
    /// SMTP server accepted is marked `sent`; every other one goes back to the queue
    /// (it may have reached the server in the instant before the stop, and then goes
    /// out twice, under the same Message-ID).
    public func recoverFromPreviousStop() async throws {
        if let journal {
            let accepted = try journal.leftOver()
            for id in accepted { try await store.markSent(id, at: Date()) }
            journal.clear()
            if !accepted.isEmpty {
                logger.warning("marked sent: accepted before a previous stop, not yet recorded", metadata: ["count": "\(accepted.count)"])
            }
        }
        let interrupted = try await store.requeueClaimed(ids: nil)
        if interrupted > 0 {
            logger.warning("requeued messages interrupted by a previous stop", metadata: ["count": "\(interrupted)"])
        }
    }

    /// One pass: sends one batch, within what the mail ceiling allows this minute.
    /// Returns how many messages it handled (0 when paused, idle or at the ceiling).
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        // While an accepted message cannot be marked, nothing more is sent: every new
        // delivery would be one more message that a restart could send twice.
        guard await recordAcceptedDeliveries() else { return 0 }
        if try await store.isOutboxPaused() { return 0 }
        let allowance = try await ceilingAllowance(now: now)
        guard allowance.leavers > 0 else { return 0 }
        // Leavers' mail first; confirmations only within their own share of the minute.
        let leavers = try await store.claimDueMessages(now: now, limit: min(policy.batchSize, allowance.leavers), confirmations: false)
        let batch = leavers + (try await store.claimDueMessages(
            now: now, limit: min(policy.batchSize - leavers.count, allowance.confirmations - leavers.count),
            confirmations: true))
        var lists: [Int64: MailingList] = [:]
        for listID in Set(batch.map(\.listID)) { lists[listID] = try await store.list(id: listID) }
        let lookup = lists
        // Up to `concurrentDeliveries` messages are in flight at once, so one message's
        // database work and guard check overlap another's SMTP round trips.
        return try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            var checkedPause = ContinuousClock.now
            for message in batch {
                if started >= policy.concurrentDeliveries { try await group.next() }
                // On shutdown, and when paused (checked every 200 ms, well within the
                // promised second), hand the rest of the batch back to the queue.
                // A sent mark that could not be saved (a full disk): hand the rest back.
                var stop = Task.isCancelled || unrecorded.recordingFailed
                if !stop, ContinuousClock.now - checkedPause > .milliseconds(200) {
                    checkedPause = ContinuousClock.now
                    stop = try await store.isOutboxPaused()
                }
                if stop {
                    let rest = batch[started...].map(\.id)
                    _ = try await Self.uncancelled { try await store.requeueClaimed(ids: rest) }
                    break
                }
                // A delivery that has started is finished and recorded even if the worker
                // is being stopped: otherwise a sent message would stay "sending" and be
                // sent again after the restart.
                group.addTask { try await Self.uncancelled { try await deliver(message, list: lookup[message.listID], now: now) } }
                started += 1
            }
            try await group.waitForAll()
            return started
        }
    }

    /// Runs `work` in a task that does not inherit the caller's cancellation.
    static func uncancelled<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await work() }.value
    }

    /// Sends everything that is due, pass after pass, until nothing is left or sending
    /// is paused. For tests and benchmarks; the service uses `run()`.
    public func drain(now: @Sendable () -> Date = { Date() }) async throws {
        while try await runOnce(now: now()) > 0 {}
    }

    func deliver(_ message: OutboxMessage, list: MailingList?, now: Date) async throws {
        let metadata: Logger.Metadata = ["outbox_id": "\(message.id)", "kind": "\(message.kind.rawValue)"]
        guard let list else {
            try await store.quarantine(message.id, reason: "the message's list no longer exists")
            return
        }
        let recipient: Recipient
        do {
            recipient = try Recipient(EmailAddress(message.recipient))
        } catch {
            try await store.quarantine(message.id, reason: "the stored recipient is not one deliverable address")
            return
        }
        let guardCheck = ContentGuard(recipient: recipient.address, allowed: list.addressesMailMayContain)
        if case .fail(let reason) = guardCheck.check(message.raw) {
            logger.error("content guard quarantined a message", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
            try await store.quarantine(message.id, reason: reason)
            Self.count("quarantined")
            return
        }
        if now.timeIntervalSince(message.createdAt) > policy.maxAge.seconds {
            try await store.markFailed(message.id, error: "expired: not delivered within \(Int(policy.maxAge.seconds / 3600)) hours")
            Self.count("expired")
            return
        }
        do {
            let journal = journal, id = message.id, logger = logger
            try await transport.send(message.raw, from: list.from.address, to: recipient, whenAccepted: {
                if journal?.accepted(id) == false {
                    logger.error("could not note an accepted delivery in the journal", metadata: metadata)
                }
            })
            unrecorded.insert(message.id)
            Self.count("sent")
            await record(message.id)
        } catch {
            switch error {
            case .permanent(let reason):
                logger.warning("message refused permanently", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
                try await store.markFailed(message.id, error: reason)
                Self.count("failed")
            case .transient(let reason):
                Self.count("deferred")
                let next = now.addingTimeInterval(policy.retryDelay(afterAttempt: message.attempts + 1).seconds)
                if next.timeIntervalSince(message.createdAt) > policy.maxAge.seconds {
                    try await store.markFailed(message.id, error: "gave up after \(message.attempts + 1) attempts: \(reason)")
                } else {
                    logger.info("delivery deferred", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
                    try await store.scheduleRetry(message.id, error: reason, at: next)
                }
            }
        }
    }

    /// Commits the `sent` mark of every accepted delivery still unrecorded; false while
    /// any cannot be (the database refuses writes), with the refusal logged.
    @discardableResult
    func recordAcceptedDeliveries() async -> Bool {
        for id in unrecorded.ids {
            guard await record(id) else { return false }
        }
        unrecorded.recordingFailed = false
        return true
    }

    /// Marks one accepted delivery `sent`; false (logged) when the database refuses.
    @discardableResult
    func record(_ id: Int64) async -> Bool {
        do {
            try await store.markSent(id, at: Date())
        } catch {
            unrecorded.recordingFailed = true
            logger.error(
                "the SMTP server accepted a message but its sent mark cannot be saved; sending waits until it is",
                metadata: ["outbox_id": "\(id)", "error": "\(error)"])
            return false
        }
        unrecorded.remove(id)
        journal?.recorded(id)
        return true
    }

    static func count(_ result: String) {
        Counter(label: "listgate_mail_deliveries_total", dimensions: [("result", result)]).increment()
    }

    /// How many more messages may be sent now: the ceiling less what was sent in the last
    /// minute. Unauthenticated traffic can fill the queue, but it can never stop the
    /// mail (there is no automatic pause): what is beyond the ceiling is held, with an
    /// error logged once a minute. Confirmations (what a flood of sign-ups causes) may
    /// use only their share of the minute (OutboxPolicy.confirmationShare); the rest is
    /// kept for unsubscribe links and receipts, so no flood can delay someone leaving.
    func ceilingAllowance(now: Date) async throws -> (leavers: Int, confirmations: Int) {
        let sent = try await store.messagesSent(since: now.addingTimeInterval(-60))
        let leavers = max(0, policy.ceilingPerMinute - sent)
        let confirmations = max(0, policy.confirmationShare - sent)
        Gauge(label: "listgate_outbox_at_ceiling").record(confirmations > 0 ? 0 : 1)
        if confirmations == 0, ceilingNotice.due(now: now) {
            let queued = try await store.messagesQueued(since: now.addingTimeInterval(-60))
            logger.error(
                "mail held at the ceiling: sending at most \(policy.ceilingPerMinute) a minute",
                metadata: ["sent_last_minute": "\(sent)", "queued_last_minute": "\(queued)"])
            Counter(label: "listgate_outbox_ceiling_reached_total").increment()
        }
        return (leavers, confirmations)
    }
}

/// Outbox ids accepted by the SMTP server and not yet marked `sent`.
final class UnrecordedDeliveries: Sendable {
    private let entries = Mutex<Set<Int64>>([])
    private let failed = Mutex(false)

    /// Set when a mark could not be saved; cleared once every accepted one is.
    var recordingFailed: Bool {
        get { failed.withLock { $0 } }
        set { failed.withLock { $0 = newValue } }
    }

    var ids: [Int64] { entries.withLock { $0.sorted() } }
    func insert(_ id: Int64) { _ = entries.withLock { $0.insert(id) } }
    func remove(_ id: Int64) { _ = entries.withLock { $0.remove(id) } }
}

/// Once a minute at most: a flood must be visible in the log without flooding it.
final class CeilingNotice: Sendable {
    private let last = Mutex<Date?>(nil)

    func due(now: Date) -> Bool {
        last.withLock { last in
            if let previous = last, now.timeIntervalSince(previous) < 60 { return false }
            last = now
            return true
        }
    }
}
