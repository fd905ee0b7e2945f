// Starts the real HTTP receiver the outbound-webhook tests deliver to (webhook_receiver.py,
// under Debian's /usr/bin/python3), which checks every signature the Standard Webhooks
// way, and reads back what it recorded. See the script's header for its behaviour.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One POST the receiver got.
public struct ReceivedWebhook: Sendable, Decodable {
    /// The `webhook-id` header.
    public let id: String
    public let timestamp: String
    /// The Standard Webhooks check passed (secret, signature, timestamp within 5 minutes).
    public let signatureValid: Bool
    public let contentType: String
    public let body: String
    /// The status the receiver answered.
    public let answered: Int
    /// The client's port: requests with the same one came over the same connection.
    public let peerPort: Int

    enum CodingKeys: String, CodingKey {
        case id, timestamp, body, answered
        case signatureValid = "signature_valid", contentType = "content_type", peerPort = "peer_port"
    }

    /// The body as a JSON object.
    public var payload: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }
}

public final class WebhookReceiver: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    public var url: String { "http://127.0.0.1:\(port)/hooks/listgate" }
    private let process: Process

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// `options` go to webhook_receiver.py as they are (["--fail-first", "1"], ["--silent"], …).
    public static func start(port: Int? = nil, options: [String] = []) throws -> WebhookReceiver {
        guard let script = Bundle.module.url(forResource: "webhook_receiver", withExtension: "py") else {
            throw SMTPSinkError("webhook_receiver.py is not in the ListgateTestSupport resource bundle")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("listgate-webhook-receiver-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ready = directory.appendingPathComponent("ready")
        let log = directory.appendingPathComponent("receiver.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-I", "-u", script.path, "--port", String(port ?? 0), "--dir", directory.path,
                             "--ready-file", ready.path] + options
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: ready, encoding: .utf8), let chosen = Int(text) {
                return WebhookReceiver(port: chosen, directory: directory, process: process)
            }
            if !process.isRunning { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw SMTPSinkError("the webhook receiver did not start:\n\(output)")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// SIGKILL (the receiver holds no state worth a graceful stop). Idempotent.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The secret requests are checked with, as `webhooks add` printed it.
    public func expect(secret: String) throws {
        try Data(secret.utf8).write(to: directory.appendingPathComponent("secret"))
    }

    /// Every later request is answered with this status.
    public func answer(_ status: Int) throws {
        try Data(String(status).utf8).write(to: directory.appendingPathComponent("answer"))
    }

    /// What was received so far, in arrival order.
    public func received() throws -> [ReceivedWebhook] {
        let folder = directory.appendingPathComponent("requests")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
        return try names.map {
            try JSONDecoder().decode(ReceivedWebhook.self, from: Data(contentsOf: folder.appendingPathComponent($0)))
        }
    }

    /// Waits until at least `count` requests arrived; what arrived by then.
    public func waitFor(count: Int, timeout: Duration) async throws -> [ReceivedWebhook] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let received = try received()
            if received.count >= count { return received }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try received()
    }
}
