// The server's idle timeout, on a live socket: a client that never finishes its request
// head is disconnected, so slow clients cannot hold connections for ever.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateServer
import ListgateTestSupport
import Logging
import Testing

@Suite("Connection idle timeout")
struct ConnectionTimeoutTests {
    func live(idleTimeout: Duration?, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let fixture = try await ServerFixture()
        var configuration = fixture.configuration
        configuration.port = 0
        configuration.idleTimeout = idleTimeout
        let server = ListgateHTTPServer(
            store: fixture.store, configuration: configuration, renderer: fixture.composer, logger: Logger(label: "test"))
        try await server.buildApplication().test(.live) { client in
            try await body(try #require(client.port))
        }
    }

    @Test("a request head dripped and never finished is cut off after the idle timeout")
    func unfinishedHeadIsClosed() async throws {
        try await live(idleTimeout: .seconds(1)) { port in
            // Without the timeout the connection would stay open and `receive` give up after
            // 20 s; the bounds below leave room for a machine busy with other work.
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            let started = ContinuousClock.now
            socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            // Keep dripping for a while: bytes that do not complete the head are no progress.
            for _ in 0..<4 {
                try await Task.sleep(for: .milliseconds(200))
                socket.send("a")
            }
            let answer = socket.receive()
            let elapsed = ContinuousClock.now - started
            #expect(answer == [], "the server closed the connection without answering")
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(15), "closed after \(elapsed)")
        }
    }

    @Test("an idle keep-alive connection is closed after the timeout; an answered request on it came first")
    func idleKeepAliveIsClosed() async throws {
        try await live(idleTimeout: .seconds(1)) { port in
            let socket = try LoopbackSocket(port: port, receiveTimeout: .seconds(20))
            socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // The idle time starts once the answer is written: wait for all of it first.
            var answer = socket.receive() ?? []
            while !String(decoding: answer, as: UTF8.self).hasSuffix("ok\n"), let more = socket.receive(), !more.isEmpty {
                answer += more
            }
            let answered = ContinuousClock.now
            let rest = socket.receiveAll()
            let idle = ContinuousClock.now - answered
            #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
            #expect(rest.isEmpty)
            #expect(idle >= .milliseconds(800) && idle < .seconds(15), "closed after \(idle) idle")
        }
    }

    @Test("the default configuration has an idle timeout")
    func defaultTimeout() {
        #expect(ServerConfiguration().idleTimeout == .seconds(30))
    }
}
