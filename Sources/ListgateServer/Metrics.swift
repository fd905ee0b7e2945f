// Prometheus metrics: requests by route and status, outbox depth, and (from the worker)
// delivery results. Values go through swift-metrics, so code that counts does not know
// who collects; `serve` bootstraps a Prometheus registry.
//
// `/metrics` is never public: counts that move with one post (the outbox depth, mail
// sent) would tell a stranger whether an address is subscribed. It answers loopback
// clients, and clients presenting LISTGATE_METRICS_TOKEN; anyone else gets 404, as if
// there were no such page. Nothing here counts subscribe outcomes by address state.
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore
import NIOCore
import Prometheus
import CoreMetrics

/// Counts every answer by the route that matched (never the raw path, which holds tokens).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            let response = try await next(request, context)
            count(context, status: response.status.code)
            return response
        } catch {
            count(context, status: (error as? any HTTPResponseError)?.status.code ?? 500)
            throw error
        }
    }

    private func count(_ context: Context, status: Int) {
        Counter(
            label: "listgate_http_requests_total",
            dimensions: [("route", context.endpointPath ?? "unmatched"), ("status", String(status))]
        ).increment()
    }
}

/// `GET /metrics`: the registry in Prometheus text format, with the outbox depth read
/// from the database at scrape time.
struct MetricsRoutes: Sendable {
    let store: any ListgateStore
    let registry: PrometheusCollectorRegistry
    let access: MetricsAccess

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("metrics") { request, context -> Response in
            // The client as resolved through trusted proxies; forwarding headers from
            // anyone else mean a proxy we were not told about stands in front.
            let forwarded = !context.throughTrustedProxy && MetricsAccess.isForwarded(request.headers)
            let client = context.clientIP.flatMap { try? SocketAddress(ipAddress: $0, port: 0) }
            guard access.allows(peer: client, forwarded: forwarded, authorization: request.headers[.authorization])
            else { return Response(status: .notFound) }  // as for a path that does not exist
            if let summary = try? await store.outboxSummary() {
                for (status, count) in summary.counts {
                    Gauge(label: "listgate_outbox_messages", dimensions: [("state", status.rawValue)]).record(count)
                }
                Gauge(label: "listgate_outbox_paused").record(summary.paused ? 1 : 0)
            }
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}

/// Who may read `/metrics`: a loopback peer, or a bearer of the configured token.
struct MetricsAccess: Sendable {
    /// SHA-256 of LISTGATE_METRICS_TOKEN, compared in constant time.
    private let tokenDigest: [UInt8]?

    init(token: String?) {
        tokenDigest = token.flatMap { $0.isEmpty ? nil : Array(SHA256.hash(data: Data($0.utf8))) }
    }

    /// `forwarded`: the request came through a proxy (it carries a forwarding header), so
    /// a loopback peer is the proxy on this host, not an operator.
    func allows(peer: SocketAddress?, forwarded: Bool = false, authorization: String?) -> Bool {
        if !forwarded, let peer, Self.isLoopback(peer) { return true }
        guard let tokenDigest, let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = Array(SHA256.hash(data: Data(parts[1].utf8)))
        // Digests of equal length, compared without an early exit.
        return zip(presented, tokenDigest).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether a proxy passed the request on: then the client is somewhere else.
    static func isForwarded(_ headers: HTTPFields) -> Bool {
        ["X-Forwarded-For", "Forwarded", "X-Real-IP"].contains { name in
            HTTPField.Name(name).map { headers[$0] != nil } ?? false
        }
    }

    /// 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z).
    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            return bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        case .unixDomainSocket:
            return true
        }
    }
}
