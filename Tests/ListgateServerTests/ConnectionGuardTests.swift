// The connection guard on live sockets: deadlines for a request head and for body
// progress, 413 from the declared length alone, and a full house making room.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateServer
import ListgateTestSupport
import Logging
import Testing

@Suite("Connection guard")
struct ConnectionGuardTests {
    func live(
        _ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: @escaping @Sendable (Int, ServerFixture) async throws -> Void
    ) async throws {
        let fixture = try await ServerFixture()
        var configuration = fixture.configuration
        configuration.port = 0
        configure(&configuration)
        let server = ListgateHTTPServer(
            store: fixture.store, configuration: configuration, renderer: fixture.composer, logger: Logger(label: "test"))
        try await server.buildApplication().test(.live) { client in
            try await body(try #require(client.port), fixture)
        }
    }

    /// Sends `drip` each time the socket's receive times out (its receive timeout sets the
    /// pace) until the server closes the connection or `limit` passes; on a thread of its
    /// own, like every wait on a socket here, so as not to hold up the in-process server.
    func dripUntilClosed(_ socket: LoopbackSocket, _ drip: String, limit: Duration) async -> DripOutcome {
        await onOwnThread {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if let chunk = socket.receive() { return chunk.isEmpty ? .closed : .answered(String(decoding: chunk, as: UTF8.self)) }
                if !socket.send(drip) { return .closed }
            }
            return .stillOpen
        }
    }

    enum DripOutcome: Equatable {
        case closed, stillOpen
        case answered(String)
    }

    /// One whole answer on a kept-alive connection: the header section and Content-Length
    /// bytes of body; nil when the connection closed or went quiet first. Blocking: call it
    /// on a thread of its own.
    static func readAnswer(_ socket: LoopbackSocket) -> String? {
        var received: [UInt8] = []
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if received.count >= 4, let end = (0...(received.count - 4)).first(where: { received[$0...].starts(with: separator) }) {
                let head = String(decoding: received[..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if received.count >= end + 4 + length { return String(decoding: received, as: UTF8.self) }
            }
            guard let chunk = socket.receive(), !chunk.isEmpty else { return nil }
            received += chunk
        }
    }

    @Test("a request head dripped a byte every 3 s is closed at the 10 s header deadline, with no idle timeout to help")
    func headerDeadline() async throws {
        try await live({ $0.idleTimeout = nil }) { port, _ in
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(3))
            let opened = ContinuousClock.now
            socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            #expect(await dripUntilClosed(socket, "a", limit: .seconds(30)) == .closed)
            let elapsed = ContinuousClock.now - opened
            #expect(elapsed >= .seconds(9) && elapsed < .seconds(16), "closed after \(elapsed)")
        }
    }

    @Test("a body may arrive slowly while each pause is under the body timeout; a longer pause closes the connection")
    func bodyProgressDeadline() async throws {
        try await live({ $0.bodyTimeout = .seconds(2) }) { port, fixture in
            let form = "email=slow%40example.net"
            let head = "POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\n\r\n"

            // Steady: a byte every 0.3 s, 7 s in all, well past the timeout taken whole. The
            // client keeps its pace on a thread of its own, however busy the test process is.
            let steady = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            let steadyAnswer = await onOwnThread {
                steady.send(head)
                for byte in form.utf8 {
                    steady.send([byte])
                    Thread.sleep(forTimeInterval: 0.3)
                }
                return Self.readAnswer(steady)
            }
            #expect(steadyAnswer?.hasPrefix("HTTP/1.1 200") == true)

            // Stalled: one byte, then a pause longer than the timeout.
            let stalled = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            stalled.send(head + "e")
            let sent = ContinuousClock.now
            #expect(await stalled.waitForBytes() == [], "closed without an answer")
            let waited = ContinuousClock.now - sent
            #expect(waited >= .milliseconds(1900) && waited < .seconds(10), "closed after \(waited)")
            #expect(try await fixture.count("outbox") == 1, "only the steady client subscribed")
        }
    }

    @Test("Content-Length over the limit: 413 with Connection: close from the head alone, then the connection closes")
    func declaredBodyTooLarge() async throws {
        try await live { port, fixture in
            for json in [false, true] {
                let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(10))
                let started = ContinuousClock.now
                socket.send("""
                    POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                    Content-Length: 1000000\r\n\(json ? "Accept: application/json\r\n" : "")\r\n
                    """)
                // No body byte is ever sent: the answer cannot depend on reading it.
                let text = String(decoding: await socket.waitForClose(), as: UTF8.self)
                #expect(ContinuousClock.now - started < .seconds(5), "answered and closed at once")
                #expect(text.hasPrefix("HTTP/1.1 413"))
                #expect(text.lowercased().contains("\r\nconnection: close\r\n"))
                #expect(text.lowercased().contains("\r\nx-content-type-options: nosniff\r\n"))
                let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined()
                #expect(json ? body.contains(#""code":"body_too_large""#) : body.contains("65536 bytes"), "\(body)")
            }
            #expect(try await fixture.count("outbox") == 0)
        }
    }

    @Test("Expect: 100-continue within the limit is told 100 Continue before the body is sent, then answered")
    func expectContinue() async throws {
        try await live { port, _ in
            let form = "email=continue%40example.net"
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(10))
            socket.send("""
                POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Content-Length: \(form.utf8.count)\r\nExpect: 100-continue\r\n\r\n
                """)
            // No body byte yet: the interim answer must come from the head alone.
            let interim = await onOwnThread { socket.receive() }
            #expect(String(decoding: interim ?? [], as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n"))
            socket.send(form)
            let answer = await onOwnThread { Self.readAnswer(socket) }
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "closed")")
            #expect(answer?.contains("100 Continue") == false, "one interim answer, not two")
        }
    }

    @Test("Expect: 100-continue over the limit is 413 at once, never 100 Continue")
    func expectContinueOverTheLimit() async throws {
        try await live { port, _ in
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(10))
            socket.send("""
                POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\
                Expect: 100-continue\r\n\r\n
                """)
            let text = String(decoding: await socket.waitForClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 413"), "\(text.prefix(60))")
        }
    }

    @Test("a client that sends its oversized body anyway still reads the 413")
    func oversizedBodySentAnyway() async throws {
        try await live { port, _ in
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(10))
            socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n")
            let sender = Thread {
                let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 16_384)
                for _ in 0..<61 where socket.send(chunk) {}
            }
            sender.start()
            let text = String(decoding: await socket.waitForClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 413"), "\(text.prefix(60))")
        }
    }

    @Test("a body of exactly the limit is the route's to judge")
    func bodyAtTheLimit() async throws {
        try await live { port, _ in
            let prefix = "email=limit%40example.net&padding="
            let form = prefix + String(repeating: "x", count: 65_536 - prefix.utf8.count)
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(10))
            socket.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n" + form)
            let text = String(decoding: await socket.waitForClose(), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.prefix(60))")
        }
    }

    @Test("a kept-alive connection may rest between requests (idle timeout); the next head, once begun, has the header deadline")
    func keepAlive() async throws {
        try await live({ $0.idleTimeout = .seconds(6); $0.headerTimeout = .seconds(1) }) { port, _ in
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            // The client's timeline runs on a thread of its own, so its pauses are the ones written here.
            let (first, second, closedAfter) = await onOwnThread { () -> (String?, String?, Duration?) in
                socket.send(request)
                let first = Self.readAnswer(socket)
                Thread.sleep(forTimeInterval: 2)  // longer than the header deadline, shorter than the idle timeout
                socket.send(request)
                let second = Self.readAnswer(socket)
                socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                let begun = ContinuousClock.now
                return (first, second, socket.receive() == [] ? ContinuousClock.now - begun : nil)
            }
            #expect(first?.hasPrefix("HTTP/1.1 200") == true)
            #expect(second?.hasPrefix("HTTP/1.1 200") == true, "still open after resting")
            let waited = try #require(closedAfter, "closed without an answer")
            #expect(waited >= .milliseconds(900) && waited < .seconds(5), "closed after \(waited), before the idle timeout")
        }
    }

    @Test("with every place taken, the connection waiting longest for a request gives way; one mid-request does not")
    func fullHouseMakesRoom() async throws {
        try await live({ $0.maxConnections = 4; $0.idleTimeout = nil; $0.headerTimeout = .seconds(60); $0.bodyTimeout = .seconds(60) }) { port, _ in
            let form = "email=busy%40example.net"
            let busy = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            // On a thread of its own, so that the order of arrivals is the order written here.
            let arrivals = await onOwnThread { () -> (newcomer: String, took: Duration, idle: [LoopbackSocket])? in
                // Mid-request: an answered request first (so the server surely holds this
                // connection), then a head and part of a body.
                busy.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                _ = Self.readAnswer(busy)
                busy.send("POST /lists/news/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(form.utf8.count)\r\nConnection: close\r\n\r\nem")
                Thread.sleep(forTimeInterval: 0.5)
                // The places fill up here. (The test framework's own idle client connection, when
                // it has one, is older still and gives way first; the outcome below is the same.)
                var idle: [LoopbackSocket] = []
                for _ in 0..<3 {
                    guard let socket = try? LoopbackSocket(port: port, receiveTimeout: .seconds(1)) else { return nil }
                    idle.append(socket)
                    Thread.sleep(forTimeInterval: 0.3)
                }
                guard let newcomer = try? LoopbackSocket(port: port, receiveTimeout: .seconds(20)) else { return nil }
                let started = ContinuousClock.now
                newcomer.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                let answer = String(decoding: newcomer.receiveAll(), as: UTF8.self)
                return (answer, ContinuousClock.now - started, idle)
            }
            let (newcomer, took, idle) = try #require(arrivals, "could not connect")
            #expect(newcomer.hasPrefix("HTTP/1.1 200"), "the newcomer is served")
            #expect(took < .seconds(5), "the newcomer waited \(took)")

            #expect(await idle[0].waitForBytes() == [], "the oldest idle connection gave way first")
            #expect(await idle[1].waitForBytes() == [], "then the next")
            #expect(await idle[2].waitForBytes() == nil, "the youngest is still open")
            busy.send(String(form.dropFirst(2)))
            let finished = String(decoding: await busy.waitForClose(), as: UTF8.self)
            #expect(finished.hasPrefix("HTTP/1.1 200"), "the request in progress was kept and answered")
        }
    }
}
