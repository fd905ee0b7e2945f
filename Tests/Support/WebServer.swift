// Starts the real HTTP server the provider webhook tests fetch from (web_server.py under
// Debian's /usr/bin/python3): it serves files put in its root (an SNS signing
// certificate), answers 200 under /confirm (an SNS SubscribeURL) and records every path
// requested.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class WebServer: @unchecked Sendable {
    public let port: Int
    public let root: URL
    private let directory: URL
    private let process: Process

    public var origin: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.root = directory.appendingPathComponent("root", isDirectory: true)
        self.process = process
    }

    /// Starts a server and waits (up to 10 s) until it listens.
    public static func start() throws -> WebServer {
        guard let script = Bundle.module.url(forResource: "web_server", withExtension: "py") else {
            throw SMTPSinkError("web_server.py is not in the ListgateTestSupport resource bundle")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-web-\(UUID().uuidString)")
        let root = directory.appendingPathComponent("root", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let ready = directory.appendingPathComponent("ready"), log = directory.appendingPathComponent("requests.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-I", "-u", script.path, "--root", root.path, "--log", log.path, "--ready-file", ready.path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOf: ready, encoding: .utf8), let port = Int(text) {
                return WebServer(port: port, directory: directory, process: process)
            }
            guard process.isRunning else { break }
            usleep(10_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw SMTPSinkError("the web server did not report listening within 10 s")
    }

    /// Puts a file at `/NAME`.
    public func serve(_ contents: String, as name: String) throws {
        try Data(contents.utf8).write(to: root.appendingPathComponent(name))
    }

    /// The paths requested so far, in order.
    public func requests() -> [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("requests.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    deinit {
        // SIGKILL: the child inherits the test process's blocked SIGTERM, so a polite stop
        // would wait forever; the server keeps nothing worth a clean exit.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
