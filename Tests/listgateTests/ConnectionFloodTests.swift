// Connection floods against the built binary, as the attack was made: thousands of idle
// connections and hundreds of dripping ones from one address, on a server started under
// the usual 1,024 open files. Before the connection guard, ~1,100 idle connections used
// up every descriptor, nobody was served, and the process died.
import Foundation
import ListgateTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Connection floods through the binary", .serialized)
struct ConnectionFloodTests {
    // Linux only: raw non-blocking sockets, /proc and RLIMIT_NOFILE as Linux has them.
    #if os(Linux)
    @Test("2,000 idle connections and 200 dripping clients: a subscriber is answered in its usual time and the server stays up")
    func floodDoesNotStarveOrKill() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        defer { withExtendedLifetime(workspace) {} }  // its directory holds the database
        let mailDirectory = workspace.url.appendingPathComponent("mail")
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", "file://\(mailDirectory.path)"],
            environment: ["LISTGATE_RATE_LIMITS": "off"], openFileSoftLimit: 1024)
        let limits = try #require(openFileLimits(of: server.process.processIdentifier))
        #expect(limits.soft == limits.hard, "serve raised its soft limit (\(limits.soft)) to the hard one (\(limits.hard))")

        let poster = FormPoster(connections: 2, timeout: 10)
        var started = ContinuousClock.now
        #expect(await poster.post("\(server.base)/lists/news/subscribe", ["email": "baseline@example.net"]) == 200)
        let usual = ContinuousClock.now - started

        // The flood, from a child process of its own: bounded in count and time, loopback only.
        let port = server.port
        let flood = try await onOwnThread { Result { try Flood(port: port, idle: 2000, drip: 200) } }.get()
        #expect(flood.opened >= 1900, "only \(flood.opened) idle connections could be opened")
        #expect(flood.dripping >= 190)
        let opened = flood.opened

        // An ordinary subscriber, in the middle of it all.
        started = ContinuousClock.now
        #expect(await poster.post("\(server.base)/lists/news/subscribe", ["email": "ordinary@example.net"]) == 200)
        let subscribed = ContinuousClock.now - started
        #expect(subscribed < .seconds(5), "subscribe answered after \(subscribed) (usually \(usual))")
        let link = try await confirmLink(for: "ordinary@example.net", in: mailDirectory, base: server.base)
        started = ContinuousClock.now
        #expect(await poster.post(link, [:]) == 200)
        let confirmed = ContinuousClock.now - started
        #expect(confirmed < .seconds(5), "confirm answered after \(confirmed)")

        #expect(server.process.isRunning, "the server is up:\n\(server.log.suffix(2000))")
        #expect(await poster.get("\(server.base)/healthz") == 200)
        let closedByServer = await onOwnThread { flood.stop() }
        print("flood: \(opened) idle + \(flood.dripping) dripping; \(closedByServer) idle connections made room; subscribe \(subscribed) (usually \(usual)), confirm \(confirmed)")

        #expect(await poster.get("\(server.base)/healthz") == 200)
        #expect(server.process.isRunning)
    }
    #endif

    @Test("a client sending one body byte every 12 s is closed by the server at the 10 s body deadline")
    func bodyDripperIsClosed() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        let server = try await ServeProcess(workspace, arguments: ["--smtp-url", "file://\(workspace.url.path)/mail"])
        let socket = try LoopbackSocket(port: server.port, receiveTimeout: .seconds(12))
        socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ne")
        // Without a deadline this takes 36 s and ends with the socket open.
        let closedAfter: Duration? = await onOwnThread {
            var lastByte = ContinuousClock.now
            for _ in 0..<3 {
                if let chunk = socket.receive() { return chunk.isEmpty ? ContinuousClock.now - lastByte : nil }
                socket.send("m")
                lastByte = ContinuousClock.now
            }
            return nil
        }
        let after = try #require(closedAfter, "the server answered or never closed the connection")
        #expect(after >= .seconds(9) && after < .seconds(12), "closed \(after) after the last byte")
        #expect(server.process.isRunning)
    }

    /// The confirm link in the confirmation mail to `address`, once the worker wrote it.
    func confirmLink(for address: String, in directory: URL, base: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
            for file in files where file.pathExtension == "eml" {
                let mail = try MailInspector.inspect(Array(try Data(contentsOf: file)))
                guard mail.to == [address], let text = mail.text else { continue }
                if let link = text.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("\(base)/confirm/") }) {
                    return String(link)
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw WorkspaceError(message: "no confirmation mail to \(address) in \(directory.path)")
    }
}

#if os(Linux)
/// "Max open files" of a running process, from /proc.
func openFileLimits(of pid: Int32) -> (soft: String, hard: String)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") })
    else { return nil }
    let fields = line.dropFirst("Max open files".count).split(separator: " ")
    guard fields.count >= 2 else { return nil }
    return (String(fields[0]), String(fields[1]))
}

#endif
