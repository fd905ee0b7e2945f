// Slow clients (slowloris) against the built binary: hundreds of connections that send a
// request head a byte at a time must not keep anyone else waiting.
import Foundation
import ListgateTestSupport
import Testing

@Suite("Slow clients through the binary", .serialized)
struct SlowClientTests {
    @Test("200 connections dripping their request heads do not delay /healthz or a subscribe post")
    func slowlorisDoesNotStarve() async throws {
        let workspace = try Workspace().migrated()
        try workspace.listgate("lists", "create", "news", "--name", "News", "--from", "news@example.org")
        // A header deadline longer than the test, so the drippers are still there at the end
        // (ConnectionFloodTests and ConnectionGuardTests cover the deadline itself).
        let server = try await ServeProcess(
            workspace, arguments: ["--smtp-url", "file://\(workspace.url.path)/mail", "--header-timeout", "120"],
            environment: ["LISTGATE_RATE_LIMITS": "off"])

        // Every slow connection starts a plausible request and then adds one header byte
        // every 200 ms, never finishing the head; one thread drips for all of them.
        let slow = try (0..<200).map { index in
            let socket = try LoopbackSocket(port: server.port)
            socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-\(index): ")
            return socket
        }
        let dripping = Shared(true)
        let dripper = Thread {
            while dripping.current {
                for socket in slow { socket.send("a") }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        dripper.start()
        defer {
            dripping.withLock { $0 = false }
            for socket in slow { socket.close() }
        }
        try await Task.sleep(for: .milliseconds(500))

        // Starved, these would time out (10 s). The bounds are for a machine that is also
        // running the rest of the test suite: alone, answers take milliseconds.
        let poster = FormPoster(connections: 2, timeout: 10)
        var times: [Duration] = []
        for round in 1...6 {
            var started = ContinuousClock.now
            let health = await poster.get("\(server.base)/healthz")
            times.append(ContinuousClock.now - started)
            #expect(health == 200)

            started = ContinuousClock.now
            let posted = await poster.post("\(server.base)/lists/news/subscribe", ["email": "patient\(round)@example.net"])
            times.append(ContinuousClock.now - started)
            #expect(posted == 200)
            try await Task.sleep(for: .milliseconds(200))
        }
        times.sort()
        let median = times[times.count / 2], slowest = times[times.count - 1]
        #expect(median < .seconds(2), "median answer \(median)")
        #expect(slowest < .seconds(5), "slowest answer \(slowest)")

        // The slow connections were still being served, not refused: the load was real.
        let open = slow.filter { $0.send("a") }.count
        #expect(open == slow.count, "only \(open) slow connections were still open")
        print("slow clients: \(slow.count) dripping connections; other requests: median \(median), slowest \(slowest)")
    }
}
