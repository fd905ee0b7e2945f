// The webhook delivery worker: a service in `listgate serve`, beside the outbox worker and
// independent of it, so no receiver can delay mail. Each receiver is drained by a task of
// its own over its own thread and lanes (CurlWebhookPoster), so a slow or dead receiver
// delays only itself; each pass claims a batch, POSTs it signed as Standard Webhooks, and
// records every outcome in one transaction, the next batch claimed while one is sent.
//
// At least once: a claimed delivery is leased (WebhookDeliveryStore); one whose process
// died is taken again when `serve` starts (or when its lease runs out), and may reach the
// receiver twice, under the same `webhook-id`. Nothing queued is lost: it leaves the queue
// only as `delivered`, or as `failed` after 3 days of retries (still listed, and
// `listgate webhooks retry` queues it again).
import CoreMetrics
import Foundation
import ListgateCore
import Logging
import ServiceLifecycle

/// How the worker delivers (README, "Receiving webhooks"; the LISTGATE_WEBHOOK_* settings).
public struct WebhookDeliveryPolicy: Sendable {
    public var retry = WebhookRetryPolicy()
    /// One POST, connection included.
    public var timeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(5)
    /// POSTs in flight to one receiver at most.
    public var lanesPerReceiver = 4
    /// Deliveries one pass claims for one receiver.
    public var batchSize = 128
    /// How often receivers and due deliveries are looked for when there is nothing to do.
    public var pollInterval: Duration = .milliseconds(250)

    public init() {}

    /// Long enough for two whole batches to time out on every lane (a batch is claimed
    /// while the one before it is still being sent), and then some: a lease must not run
    /// out while its delivery is still being tried.
    var lease: TimeInterval {
        let perLane = (batchSize + lanesPerReceiver - 1) / max(1, lanesPerReceiver)
        return 2 * Double(perLane) * (Double(timeout.components.seconds) + 1) + 30
    }
}

public struct WebhookWorker: Service {
    let store: any WebhookDeliveryStore
    let policy: WebhookDeliveryPolicy
    let logger: Logger

    public init(store: any WebhookDeliveryStore, policy: WebhookDeliveryPolicy = WebhookDeliveryPolicy(), logger: Logger) {
        self.store = store
        self.policy = policy
        self.logger = logger
    }

    public func run() async throws {
        let released = try await store.releaseWebhookLeases()
        if released > 0 {
            logger.warning("webhook deliveries interrupted by a previous stop are due again", metadata: ["count": "\(released)"])
        }
        await cancelWhenGracefulShutdown {
            await supervise()
        }
    }

    /// Starts a drain for every receiver with nothing running, each `pollInterval`; a
    /// receiver's drain ends when it has nothing due, and is started again on the next tick.
    func supervise() async {
        await withTaskGroup(of: Int64?.self) { group in
            var running = Set<Int64>()
            var posters: [Int64: CurlWebhookPoster] = [:]
            var lastDepth = ContinuousClock.now - .seconds(10)
            group.addTask { nil }
            while let finished = await group.next() {
                if let finished {
                    running.remove(finished)
                    continue
                }
                if Task.isCancelled { continue }  // let running drains finish; start nothing
                do {
                    let targets = try await store.activeWebhookTargets()
                    let active = Set(targets.map(\.id))
                    posters = posters.filter { active.contains($0.key) }
                    for target in targets where !running.contains(target.id) {
                        let poster: CurlWebhookPoster
                        if let existing = posters[target.id] {
                            poster = existing
                        } else {
                            poster = try CurlWebhookPoster(
                                lanes: policy.lanesPerReceiver, timeout: policy.timeout,
                                connectTimeout: policy.connectTimeout)
                            posters[target.id] = poster
                        }
                        running.insert(target.id)
                        group.addTask {
                            await drain(target, poster: poster)
                            return target.id
                        }
                    }
                    if ContinuousClock.now - lastDepth > .seconds(1) {
                        lastDepth = ContinuousClock.now
                        Gauge(label: "listgate_webhook_queue_depth").record(try await store.pendingWebhookDeliveries())
                    }
                } catch {
                    logger.error("webhook pass failed", metadata: ["error": "\(error)"])
                }
                let interval = policy.pollInterval
                group.addTask {
                    try? await Task.sleep(for: interval)
                    return nil
                }
            }
        }
    }

    /// Delivers what is due to one receiver, batch after batch, until nothing is. Two
    /// batches overlap: the next is claimed and handed to the lanes, and the last one
    /// recorded, while one is being POSTed, so the lanes do not wait for the database
    /// between batches. After an error nothing more is claimed; what is under way is
    /// still recorded, and the next tick starts again.
    func drain(_ target: WebhookTarget, poster: CurlWebhookPoster) async {
        let key = WebhookSignature.key(target.secret)
        var sending: (batch: [DueWebhookDelivery], ticket: PostTicket)?
        var failing = false
        while true {
            var next: (batch: [DueWebhookDelivery], ticket: PostTicket)?
            if !failing, !Task.isCancelled {
                do {
                    let now = Date()
                    let batch = try await store.claimWebhookDeliveries(
                        webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(policy.lease), limit: policy.batchSize)
                    if !batch.isEmpty {
                        let url = target.url
                        let prepared = PreparedRequests(batch, url: url, key: key, at: Date())
                        next = (batch, poster.submit(count: batch.count) { index, request in
                            if prepared.isFresh(at: Date()) {
                                prepared.copy(index, into: &request)
                            } else {
                                Self.write(batch[index], url: url, key: key, at: Date(), into: &request)
                            }
                        })
                    }
                } catch {
                    logger.error("webhook delivery pass failed", metadata: ["webhook_id": "\(target.publicID)", "error": "\(error)"])
                    failing = true
                }
            }
            if let sending {
                do {
                    try await record(sending.batch, answers: await sending.ticket.answers(), target: target)
                } catch {
                    // Unrecorded: those deliveries stay leased, and are sent again when the lease runs out.
                    logger.error("webhook delivery pass failed", metadata: ["webhook_id": "\(target.publicID)", "error": "\(error)"])
                    failing = true
                }
            }
            guard let next else { return }
            sending = next
        }
    }

    /// One batch's answers, recorded in one transaction.
    func record(_ batch: [DueWebhookDelivery], answers: [WebhookAnswer], target: WebhookTarget) async throws {
        let finished = Date()
        var outcomes: [(id: Int64, outcome: WebhookAttemptOutcome)] = []
        outcomes.reserveCapacity(batch.count)
        var delivered = 0, retried = 0, failed = 0
        for (delivery, answer) in zip(batch, answers) {
            let outcome = outcome(of: answer, for: delivery, at: finished)
            outcomes.append((delivery.id, outcome))
            switch outcome {
            case .delivered: delivered += 1
            case .released: break
            case .retry(_, _, let error):
                retried += 1
                logger.debug("webhook delivery deferred", metadata: [
                    "delivery_id": "\(delivery.publicID)", "webhook_id": "\(target.publicID)", "reason": "\(error)",
                ])
            case .failed(_, let error):
                failed += 1
                logger.warning("webhook delivery failed for good", metadata: [
                    "delivery_id": "\(delivery.publicID)", "webhook_id": "\(target.publicID)", "reason": "\(error)",
                ])
            }
        }
        // Counted once a batch, not once a delivery: each count looks its counter up.
        Self.count("delivered", delivered)
        Self.count("retried", retried)
        Self.count("failed", failed)
        // Recorded even while the service stops: an unrecorded success would be sent again.
        let store = store
        try await Task { try await store.recordWebhookAttempts(outcomes) }.value
    }

    func outcome(of answer: WebhookAnswer, for delivery: DueWebhookDelivery, at now: Date) -> WebhookAttemptOutcome {
        let status: Int?, error: String
        switch answer {
        case .status(let code) where (200..<300).contains(code):
            return .delivered(status: code, at: now)
        case .status(let code) where (300..<400).contains(code):
            (status, error) = (code, "HTTP \(code): redirects are not followed")
        case .status(let code):
            (status, error) = (code, "HTTP \(code)")
        case .noAnswer(let reason):
            (status, error) = (nil, reason)
        case .notAttempted:
            return .released
        }
        return policy.retry.afterFailure(
            attempt: delivery.attempts + 1, firstDueAt: delivery.firstDueAt, now: now, status: status, error: error)
    }

    /// The signed POST, Standard Webhooks headers over the body built now, written into
    /// the lane's buffers.
    static func write(_ delivery: DueWebhookDelivery, url: String, key: WebhookSigningKey, at date: Date, into request: inout WebhookRequest) {
        request.reset(headerCount: 4)
        request.url = url
        WebhookPayload.append(delivery, to: &request.body)
        let timestamp = Int(date.timeIntervalSince1970)
        request.headers[0].append(contentsOf: "Content-Type: application/json".utf8)
        request.headers[1].append(contentsOf: "webhook-id: ".utf8)
        request.headers[1].append(contentsOf: delivery.publicID.utf8)
        request.headers[2].append(contentsOf: "webhook-timestamp: ".utf8)
        request.headers[2].append(contentsOf: String(timestamp).utf8)
        request.headers[3].append(contentsOf: "webhook-signature: ".utf8)
        let body = request.body  // shared, not copied: read while the header is written
        body.withUnsafeBytes { body in
            WebhookSignature.append(id: delivery.publicID, timestamp: timestamp, body: body, key: key, to: &request.headers[3])
        }
    }

    static func count(_ result: String, _ number: Int) {
        guard number > 0 else { return }
        Counter(label: "listgate_webhook_deliveries_total", dimensions: [("result", result)]).increment(by: number)
    }
}

/// A batch's requests, built and signed together on the worker's task as the batch is
/// handed to the lanes, in one buffer. The receiver's thread is the serial part of a
/// delivery (it owns every connection), so it only copies them; building and signing
/// there was a sixth of its time (docs/benchmarks.md, "bench/webhooks.sh").
struct PreparedRequests: Sendable {
    private let bytes: [UInt8]
    /// Per request, where its body and each of its 4 header lines end in `bytes`.
    private let ends: [Int]
    private let url: String
    private let signedAt: Date

    init(_ batch: [DueWebhookDelivery], url: String, key: WebhookSigningKey, at date: Date) {
        var bytes: [UInt8] = [], ends: [Int] = [], scratch = WebhookRequest()
        bytes.reserveCapacity(batch.count * 640)
        ends.reserveCapacity(batch.count * 5)
        for delivery in batch {
            WebhookWorker.write(delivery, url: url, key: key, at: date, into: &scratch)
            bytes.append(contentsOf: scratch.body)
            ends.append(bytes.count)
            for line in scratch.headers {
                bytes.append(contentsOf: line)
                ends.append(bytes.count)
            }
        }
        self.bytes = bytes
        self.ends = ends
        self.url = url
        signedAt = date
    }

    /// Receivers refuse a timestamp more than 5 minutes off (Standard Webhooks): a batch
    /// that waited behind a slow one is signed again when its POSTs start.
    func isFresh(at now: Date) -> Bool { now.timeIntervalSince(signedAt) < 60 }

    func copy(_ index: Int, into request: inout WebhookRequest) {
        request.reset(headerCount: 4)
        request.url = url
        var start = index == 0 ? 0 : ends[index * 5 - 1]
        request.body.append(contentsOf: bytes[start..<ends[index * 5]])
        for line in 0..<4 {
            start = ends[index * 5 + line]
            request.headers[line].append(contentsOf: bytes[start..<ends[index * 5 + line + 1]])
        }
    }
}
