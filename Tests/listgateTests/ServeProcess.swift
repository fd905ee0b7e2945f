// `listgate serve` as a child process over a database the test owns, so a test can kill
// it (SIGKILL, no chance to clean up) and start it again on the same database; plus a
// form poster that many tasks share. Used by the crash, outage and slow-client tests.
import Foundation
import GRDB
import ListgateTestSupport
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

final class ServeProcess: @unchecked Sendable {
    let port: Int
    let process = Process()
    /// What the server printed; kept with the workspace for a failing test's message.
    let logURL: URL
    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts `listgate serve --db <workspace db> --port <free> ARGUMENTS` and waits
    /// (up to 30 s, for a loaded machine) until /healthz answers 200. With
    /// `openFileSoftLimit`, the server starts under that soft RLIMIT_NOFILE (set by a shell
    /// that then becomes the server), as on a host with the usual 1,024.
    init(_ workspace: Workspace, arguments: [String], environment: [String: String] = [:], openFileSoftLimit: Int? = nil)
        async throws
    {
        port = try freePort()
        logURL = workspace.url.appendingPathComponent("serve-\(port).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        let command = ["serve", "--db", workspace.db, "--port", String(port)] + arguments
        if let openFileSoftLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -Sn \(openFileSoftLimit) && exec \"$0\" \"$@\"", Binary.url.path] + command
        } else {
            process.executableURL = Binary.url
            process.arguments = command
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTGATE_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = workspace.url
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<300 {
            if await httpGet("\(base)/healthz")?.0 == 200 { return }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WorkspaceError(message: "listgate serve did not come up:\n\(self.log)")
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it is still running after 5 s.
    deinit {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        kill()
    }

    /// SIGKILL: the process gets no chance to finish, flush or record anything.
    func kill() {
        #if canImport(Glibc)
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        #else
        if process.isRunning { Darwin.kill(process.processIdentifier, SIGKILL) }
        #endif
        process.waitUntilExit()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}

/// Posts URL-encoded forms over its own URLSession (the shared one allows few
/// connections per host) and never throws: a refused or cut connection is `nil`.
final class FormPoster: Sendable {
    let session: URLSession

    init(connections: Int = 16, timeout: TimeInterval = 10) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = connections
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    deinit { session.invalidateAndCancel() }

    /// The status code, or nil when no answer came (server down, killed, timed out).
    func post(_ url: String, _ fields: [String: String], json: Bool = false) async -> Int? {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        if json { request.setValue("application/json", forHTTPHeaderField: "Accept") }
        request.httpBody = Data(fields.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }
            .joined(separator: "&").utf8)
        guard let (_, response) = try? await session.data(for: request) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }

    func get(_ url: String) async -> Int? {
        guard let (_, response) = try? await session.data(from: URL(string: url)!) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }
}

/// The `Message-ID` header of a raw message, angle brackets included.
func messageID(of raw: [UInt8]) -> String? {
    let text = String(decoding: raw, as: UTF8.self)
    for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
        if line.isEmpty { return nil }  // end of the header section
        if line.lowercased().hasPrefix("message-id:") {
            return line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}

/// Polls `condition` every 20 ms until it holds; false after `timeout`.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
