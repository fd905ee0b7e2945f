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
        // This process holds 2,200 sockets at once.
        #expect(raiseOwnOpenFileLimit() >= 4096, "the test needs more than 2,200 descriptors")
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
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

        // The flood: bounded in count and in time, loopback only.
        let idle = RawClients()
        defer { idle.closeAll() }
        let port = server.port
        let opened = await onOwnThread { idle.open(2000, port: port, within: .seconds(60)) }
        #expect(opened >= 1900, "only \(opened) idle connections could be opened")
        let drippers = RawClients()
        defer { drippers.closeAll() }
        #expect(await onOwnThread { drippers.open(200, port: port, within: .seconds(30)) } >= 190)
        for (index, client) in drippers.descriptors.enumerated() {
            RawClients.send(client, "POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip-\(index): ")
        }
        let dripping = Shared(true)
        let dripper = Thread {
            while dripping.current {
                for client in drippers.descriptors { RawClients.send(client, "a") }
                Thread.sleep(forTimeInterval: 2)
            }
        }
        dripper.start()
        defer { dripping.withLock { $0 = false } }

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
        let closedByServer = idle.closedByPeer()
        print("flood: \(opened) idle + \(drippers.descriptors.count) dripping; \(closedByServer) idle connections made room; subscribe \(subscribed) (usually \(usual)), confirm \(confirmed)")

        dripping.withLock { $0 = false }
        idle.closeAll()
        drippers.closeAll()
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
/// This process's soft RLIMIT_NOFILE, raised to its hard limit; returns the new value.
func raiseOwnOpenFileLimit() -> UInt64 {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return UInt64(limit.rlim_cur)
}

/// "Max open files" of a running process, from /proc.
func openFileLimits(of pid: Int32) -> (soft: String, hard: String)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") })
    else { return nil }
    let fields = line.dropFirst("Max open files".count).split(separator: " ")
    guard fields.count >= 2 else { return nil }
    return (String(fields[0]), String(fields[1]))
}

/// Raw client sockets to 127.0.0.1, connected without blocking, so that a connection the
/// server does not take is given up after a while instead of hanging the test.
final class RawClients: Sendable {
    private let sockets = Shared<[Int32]>([])

    var descriptors: [Int32] { sockets.current }

    /// Opens up to `count` connections, each given 2 s to connect, all within `budget`;
    /// returns how many connected.
    func open(_ count: Int, port: Int, within budget: Duration) -> Int {
        let deadline = ContinuousClock.now + budget
        var connected = 0
        while connected < count, ContinuousClock.now < deadline {
            guard let descriptor = Self.connect(port: port, timeoutMilliseconds: 2000) else { continue }
            sockets.withLock { $0.append(descriptor) }
            connected += 1
        }
        return connected
    }

    /// How many of the connections the server has closed (an end of stream is waiting).
    func closedByPeer() -> Int {
        descriptors.filter { descriptor in
            var byte: UInt8 = 0
            return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
        }.count
    }

    func closeAll() {
        let all = sockets.withLock { sockets in
            defer { sockets = [] }
            return sockets
        }
        for descriptor in all { Glibc.close(descriptor) }
    }

    static func send(_ descriptor: Int32, _ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { buffer in
            Glibc.send(descriptor, buffer.baseAddress, buffer.count - 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
    }

    private static func connect(port: Int, timeoutMilliseconds: Int32) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result == 0 { return descriptor }
        guard errno == EINPROGRESS else {
            Glibc.close(descriptor)
            return nil
        }
        var poll = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard Glibc.poll(&poll, 1, timeoutMilliseconds) == 1,
              getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0
        else {
            Glibc.close(descriptor)
            return nil
        }
        return descriptor
    }
}
#endif
