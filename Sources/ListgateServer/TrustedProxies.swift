// Behind a reverse proxy every connection comes from the proxy. The client is then named
// by the proxy's `X-Forwarded-For` (or RFC 7239 `Forwarded: for=`), but only a proxy the
// operator trusts may name it: from anyone else those headers are ignored, or a client
// could choose its own per-IP limit and consent record. The client is the rightmost
// address that is not itself a trusted proxy (each proxy appends the peer it saw, so
// what is left of the last untrusted hop was written by the client and proves nothing).
import Foundation
import HTTPTypes
import Hummingbird
#if canImport(Glibc)
import Glibc
#endif

/// `LISTGATE_TRUSTED_PROXIES` / `--trusted-proxy`: addresses or CIDR networks.
public struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        let bytes: [UInt8]  // 4 or 16
        let prefix: Int
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    init(networks: [Network]) {
        self.networks = networks
    }

    /// Each entry is an address (`127.0.0.1`, `::1`) or a network (`10.0.0.0/8`).
    public init(parsing entries: [String]) throws(TrustedProxiesError) {
        var networks: [Network] = []
        for entry in entries.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingCharacters(in: .whitespaces) })
        where !entry.isEmpty {
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let bytes = Self.bytes(of: String(parts[0])) else { throw TrustedProxiesError(entry: entry) }
            let maximum = bytes.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : maximum
            guard let prefix, (0...maximum).contains(prefix) else { throw TrustedProxiesError(entry: entry) }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        self.networks = networks
    }

    public var isEmpty: Bool { networks.isEmpty }

    /// Whether `address` (text, no port) is one of the trusted proxies.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { network in
            guard network.bytes.count == bytes.count else { return false }
            var remaining = network.prefix
            for (mine, theirs) in zip(network.bytes, bytes) where remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if mine & mask != theirs & mask { return false }
                remaining -= 8
            }
            return true
        }
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy; otherwise
    /// the rightmost forwarded address that is not a trusted proxy.
    public func client(peer: String?, forwardedFor: String?, forwarded: String?) -> String? {
        guard let peer, contains(peer) else { return peer }
        let chain = Self.addresses(forwardedFor: forwardedFor, forwarded: forwarded)
        guard !chain.isEmpty else { return peer }
        return chain.reversed().first { !contains($0) } ?? chain.first
    }

    /// The addresses a proxy chain names, leftmost first; entries that are not addresses
    /// (`unknown`, obfuscated names) are left out.
    static func addresses(forwardedFor: String?, forwarded: String?) -> [String] {
        if let forwardedFor {
            return forwardedFor.split(separator: ",").compactMap { normalised(String($0)) }
        }
        guard let forwarded else { return [] }
        return forwarded.split(separator: ",").compactMap { element in
            element.split(separator: ";").compactMap { pair -> String? in
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { return nil }
                return normalised(String(parts[1]))
            }.first
        }
    }

    /// `"[2001:db8::1]:4711"` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`; nil if not an address.
    static func normalised(_ text: String) -> String? {
        var value = text.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            value = String(value[value.index(after: value.startIndex)..<close])
        } else if value.filter({ $0 == ":" }).count == 1 {
            value = String(value.split(separator: ":")[0])  // IPv4 with a port
        }
        return bytes(of: value) == nil ? nil : value
    }

    static func bytes(of address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }
}

public struct TrustedProxiesError: Error, CustomStringConvertible {
    public let entry: String
    public var description: String {
        "invalid trusted proxy '\(entry)': give an IP address or a network such as 10.0.0.0/8 or ::1/128"
    }
}

/// Puts the resolved client address in the context, once, before any route reads it.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let peer = context.remoteAddress?.ipAddress
        context.throughTrustedProxy = peer.map(proxies.contains) ?? false
        context.clientIP = proxies.client(
            peer: peer, forwardedFor: request.headers[.xForwardedFor], forwarded: request.headers[.forwarded])
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let forwarded = Self("Forwarded")!
}
