// A blocking TCP client socket to 127.0.0.1, for tests that must control the bytes and
// their timing (a request head sent a byte at a time), which URLSession cannot.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class LoopbackSocket: @unchecked Sendable {
    public let descriptor: Int32
    private let lock = NSLock()
    private var closed = false

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address such as
    /// 127.0.0.7, to act as another client) when given; `receiveTimeout` bounds each `receive`.
    public init(port: Int, source: String? = nil, receiveTimeout: Duration = .seconds(10)) throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SMTPSinkError("socket() failed: \(String(cString: strerror(errno)))") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let reason = String(cString: strerror(errno))
                Self.systemClose(fd)
                throw SMTPSinkError("bind(\(source)) failed: \(reason)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Self.systemClose(fd)
            throw SMTPSinkError("connect(127.0.0.1:\(port)) failed: \(reason)")
        }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        descriptor = fd
    }

    deinit { close() }

    /// Sends all of `bytes`; false if the peer has closed the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { buffer in
                #if canImport(Glibc)
                Glibc.send(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(descriptor, buffer.baseAddress, buffer.count, 0)
                #endif
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Up to `limit` bytes; empty when the peer closed the connection; nil on timeout or error.
    public func receive(limit: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, limit, 0) }
        guard count >= 0 else { return nil }
        return Array(buffer[0..<count])
    }

    /// One whole HTTP/1.1 response (head and a Content-Length body) from a kept-alive
    /// connection; nil if the connection ends or times out first.
    public func receiveResponse() -> (status: Int, head: String, body: [UInt8])? {
        var bytes: [UInt8] = []
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let end = bytes.firstRange(of: separator) {
                let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                while bytes.count < end.upperBound + length {
                    guard let chunk = receive(), !chunk.isEmpty else { return nil }
                    bytes += chunk
                }
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                return (status, head, Array(bytes[end.upperBound..<(end.upperBound + length)]))
            }
            guard let chunk = receive(), !chunk.isEmpty else { return nil }
            bytes += chunk
        }
    }

    /// Reads until the peer closes the connection (or `receive` times out) and returns it all.
    public func receiveAll() -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = receive(), !chunk.isEmpty { all += chunk }
        return all
    }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        Self.systemClose(descriptor)
    }

    private static func systemClose(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }
}

/// Runs blocking work (a socket read that waits seconds) on a thread of its own: on the
/// few threads Swift concurrency shares with an in-process server, it would hold up the
/// server's own answers while several such tests run at once.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

extension LoopbackSocket {
    /// `receive()` on a thread of its own (see `onOwnThread`).
    public func waitForBytes(limit: Int = 65536) async -> [UInt8]? {
        await onOwnThread { self.receive(limit: limit) }
    }

    /// `receiveAll()` on a thread of its own: everything until the peer closes (or a
    /// receive times out).
    public func waitForClose() async -> [UInt8] {
        await onOwnThread { self.receiveAll() }
    }
}
