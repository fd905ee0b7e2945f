// The webhook delivery worker: a service in `listgate serve`, beside the outbox worker and
// independent of it, so no receiver can delay mail. Each receiver is drained by a task of
// its own over its own lanes (CurlWebhookPoster), so a slow or dead receiver delays only
// itself; each pass claims a batch, POSTs it signed as Standard Webhooks, and records
// every outcome in one transaction.
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

    /// Long enough for a whole batch to time out on every lane, and then some: a lease
    /// must not run out while its delivery is still being tried.
    var lease: TimeInterval {
        let perLane = (batchSize + lanesPerReceiver - 1) / max(1, lanesPerReceiver)
        return Double(perLane) * (Double(timeout.components.seconds) + 1) + 30
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
                                receiver: target.publicID, lanes: policy.lanesPerReceiver, timeout: policy.timeout,
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

    /// Delivers what is due to one receiver, batch after batch, until nothing is.
    func drain(_ target: WebhookTarget, poster: CurlWebhookPoster) async {
        while !Task.isCancelled {
            do {
                guard try await runOnce(target, poster: poster) > 0 else { return }
            } catch {
                logger.error("webhook delivery pass failed", metadata: ["webhook_id": "\(target.publicID)", "error": "\(error)"])
                return
            }
        }
    }

    /// One batch to one receiver; returns how many deliveries it attempted.
    @discardableResult
    func runOnce(_ target: WebhookTarget, poster: CurlWebhookPoster, now: Date = Date()) async throws -> Int {
        let batch = try await store.claimWebhookDeliveries(
            webhookID: target.id, now: now, leaseUntil: now.addingTimeInterval(policy.lease), limit: policy.batchSize)
        guard !batch.isEmpty else { return 0 }
        let url = target.url, secret = target.secret
        let answers = await poster.post(count: batch.count) { index in
            Self.request(for: batch[index], url: url, secret: secret, at: Date())
        }
        let finished = Date()
        var outcomes: [(id: Int64, outcome: WebhookAttemptOutcome)] = []
        outcomes.reserveCapacity(batch.count)
        for (delivery, answer) in zip(batch, answers) {
            let outcome = outcome(of: answer, for: delivery, at: finished)
            outcomes.append((delivery.id, outcome))
            switch outcome {
            case .delivered: Self.count("delivered")
            case .released: break
            case .retry(_, _, let error):
                Self.count("retried")
                logger.debug("webhook delivery deferred", metadata: [
                    "delivery_id": "\(delivery.publicID)", "webhook_id": "\(target.publicID)", "reason": "\(error)",
                ])
            case .failed(_, let error):
                Self.count("failed")
                logger.warning("webhook delivery failed for good", metadata: [
                    "delivery_id": "\(delivery.publicID)", "webhook_id": "\(target.publicID)", "reason": "\(error)",
                ])
            }
        }
        // Recorded even while the service stops: an unrecorded success would be sent again.
        let store = store
        try await Task { try await store.recordWebhookAttempts(outcomes) }.value
        return batch.count
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

    /// The signed POST: Standard Webhooks headers over the body built now.
    static func request(for delivery: DueWebhookDelivery, url: String, secret: WebhookSecret, at date: Date) -> WebhookRequest {
        let body = WebhookPayload.body(for: delivery)
        let timestamp = Int(date.timeIntervalSince1970)
        return WebhookRequest(
            url: url,
            headers: [
                "Content-Type: application/json",
                "webhook-id: \(delivery.publicID)",
                "webhook-timestamp: \(timestamp)",
                "webhook-signature: " + WebhookSignature.header(id: delivery.publicID, timestamp: timestamp, body: body, secret: secret),
            ],
            body: body)
    }

    static func count(_ result: String) {
        Counter(label: "listgate_webhook_deliveries_total", dimensions: [("result", result)]).increment()
    }
}
