// Prometheus metrics: requests by route and status, subscribe outcomes, outbox depth,
// and (from the worker) delivery results. Values go through swift-metrics, so code that
// counts does not know who collects; `serve` bootstraps a Prometheus registry.
import CoreMetrics
import Hummingbird
import ListgateCore
import Prometheus

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

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("metrics") { _, _ -> Response in
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
