// Starts the real SMTP server the tests deliver to (smtp_sink.py, aiosmtpd under
// Debian's /usr/bin/python3) and reads back what it recorded. See smtp_sink.py's header
// for its behaviour (tempfail…/reject…/slow…/flaky… recipients, --auth, --fail-next N,
// --flaky-failures K).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct SMTPSinkError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One message the sink accepted.
public struct ReceivedMessage: Sendable {
    /// The MAIL FROM address, without angle brackets.
    public let mailFrom: String
    /// MAIL FROM parameters, upper-cased, e.g. ["SIZE=120", "SMTPUTF8"].
    public let mailOptions: [String]
    /// The accepted RCPT TO addresses, without angle brackets.
    public let rcptTos: [String]
    /// The DATA bytes as received, after SMTP dot-unstuffing, without the final ".".
    public let data: [UInt8]
    /// Identifies the SMTP connection (1, 2, … per sink): equal means same connection.
    public let session: Int
    /// The AUTH user name, nil if the client did not authenticate.
    public let authLogin: String?
    /// ISO 8601 UTC time the server accepted the message.
    public let receivedAt: String
    /// The record's file name, e.g. "000001.json".
    public let fileName: String

    public var text: String { String(decoding: data, as: UTF8.self) }
}

public final class SMTPSink: @unchecked Sendable {
    /// The port the server listens on, on 127.0.0.1.
    public let port: Int
    /// Scratch directory: `messages/` (the records), `control`, `ready`, `sink.log`;
    /// removed when the sink is deallocated.
    public let directory: URL
    public let messagesDirectory: URL
    public var url: String { "smtp://127.0.0.1:\(port)" }

    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.messagesDirectory = directory.appendingPathComponent("messages", isDirectory: true)
        self.process = process
    }

    /// Starts a sink and waits (up to 10 s) until it listens. Without `port`, the server
    /// binds port 0 itself and reports the port the kernel chose, so parallel tests can
    /// never race for one; pass a port to restart a server where an earlier one was.
    /// `options` go to smtp_sink.py as they are, e.g. ["--auth"], ["--fail-next", "2"] or
    /// ["--flaky-failures", "3"].
    public static func start(port: Int? = nil, options: [String] = []) throws -> SMTPSink {
        guard let script = Bundle.module.url(forResource: "smtp_sink", withExtension: "py") else {
            throw SMTPSinkError("smtp_sink.py is not in the ListgateTestSupport resource bundle")
        }
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw SMTPSinkError("\(python) is missing; the SMTP sink needs Debian's python3 with python3-aiosmtpd")
        }
        let directory = scratchRoot()
            .appendingPathComponent("listgate-smtp-sink-\(UUID().uuidString)", isDirectory: true)
        let messages = directory.appendingPathComponent("messages", isDirectory: true)
        let ready = directory.appendingPathComponent("ready")
        let log = directory.appendingPathComponent("sink.log")
        try FileManager.default.createDirectory(at: messages, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: log.path, contents: nil),
              let logHandle = try? FileHandle(forWritingTo: log) else {
            throw SMTPSinkError("cannot create \(log.path)")
        }
        defer { try? logHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        // -I: ignore PYTHON* variables and the user's site-packages; -u: unbuffered log.
        process.arguments = ["-I", "-u", script.path, "--port", String(port ?? 0),
                             "--dir", messages.path, "--ready-file", ready.path] + options
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = logHandle
        process.standardError = logHandle
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw SMTPSinkError("cannot start \(python) \(script.path): \(error)")
        }

        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let text = try? String(contentsOf: ready, encoding: .utf8), let chosen = Int(text) {
                return SMTPSink(port: chosen, directory: directory, process: process)
            }
            let failure: String
            if !process.isRunning {
                process.waitUntilExit()
                failure = "the SMTP sink exited with status \(process.terminationStatus) before listening"
            } else if ContinuousClock.now >= deadline {
                // SIGKILL: the script may not have unblocked SIGTERM yet.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                failure = "the SMTP sink did not report listening within 10 s"
            } else {
                usleep(10_000)
                continue
            }
            let output = Self.read(log)
            try? FileManager.default.removeItem(at: directory)
            throw SMTPSinkError(failure + (port.map { " (port \($0))" } ?? "") + ":\n" + output)
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited after 5 s. Idempotent.
    /// The records stay readable until the sink is deallocated.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(5)
            while process.isRunning, ContinuousClock.now < deadline { usleep(5_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    /// Everything recorded so far, in arrival order.
    public func messages() throws -> [ReceivedMessage] {
        let names = try recordNames()
        let decoder = JSONDecoder()
        return try names.map { name in
            let data = try Data(contentsOf: messagesDirectory.appendingPathComponent(name))
            let record: Record
            do {
                record = try decoder.decode(Record.self, from: data)
            } catch {
                throw SMTPSinkError("cannot read \(name): \(error)")
            }
            guard let body = Data(base64Encoded: record.data_b64) else {
                throw SMTPSinkError("\(name): data_b64 is not base64")
            }
            return ReceivedMessage(mailFrom: record.mail_from, mailOptions: record.mail_options,
                                   rcptTos: record.rcpt_tos, data: [UInt8](body), session: record.session,
                                   authLogin: record.auth_login, receivedAt: record.received_at, fileName: name)
        }
    }

    /// Polls until at least `count` messages are recorded; throws after `timeout`.
    public func waitForMessages(count: Int, timeout: Duration) async throws -> [ReceivedMessage] {
        let deadline = ContinuousClock.now + timeout
        while true {
            // Count the files first: decoding thousands of records on every poll would not do.
            let recorded = try recordNames().count
            if recorded >= count { return try messages() }
            if ContinuousClock.now >= deadline {
                throw SMTPSinkError("expected \(count) messages within \(timeout), the sink has \(recorded)\n" + log)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// How many messages are recorded so far, without reading them.
    public func messageCount() throws -> Int {
        try recordNames().count
    }

    /// "000001.json", … in arrival order (the dot-prefixed temporary files excluded).
    private func recordNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: messagesDirectory.path)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .sorted()
    }

    /// Makes the server answer "451 4.3.0 try again later" to the next `count` RCPT TO
    /// commands, whatever the recipient: an outage.
    public func failNextRecipients(_ count: Int) throws {
        let control = directory.appendingPathComponent("control")
        try Data(String(count).utf8).write(to: control, options: .atomic)
    }

    /// What the server printed (aiosmtpd errors, tracebacks), for failure messages.
    public var log: String { Self.read(directory.appendingPathComponent("sink.log")) }

    /// $TMPDIR if set; otherwise, on Linux, the tmpfs /dev/shm when writable: the sink
    /// creates a file per message, which costs ~30 µs there and can cost ~700 µs on a
    /// virtual disk, and that would make the server, not the client, what tests measure.
    private static func scratchRoot() -> URL {
        #if os(Linux)
        if ProcessInfo.processInfo.environment["TMPDIR"] == nil,
           FileManager.default.isWritableFile(atPath: "/dev/shm") {
            return URL(fileURLWithPath: "/dev/shm", isDirectory: true)
        }
        #endif
        return FileManager.default.temporaryDirectory
    }

    private static func read(_ file: URL) -> String {
        (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    private struct Record: Decodable {
        let mail_from: String
        let mail_options: [String]
        let rcpt_tos: [String]
        let data_b64: String
        let session: Int
        let auth_login: String?
        let received_at: String
    }
}

/// A TCP port on 127.0.0.1 that nothing listened on a moment ago (bind to port 0,
/// read the port back, close). Another process may take it before you use it.
public func freeLoopbackPort() throws -> Int {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw SMTPSinkError("socket() failed: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw SMTPSinkError("bind(127.0.0.1:0) failed: \(String(cString: strerror(errno)))") }
    var actual = sockaddr_in()
    var actualLength = length
    let named = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
    }
    guard named == 0 else { throw SMTPSinkError("getsockname failed: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: actual.sin_port))
}
