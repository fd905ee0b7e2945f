// The HTTP face of listgate. Routes are thin: they decode, call the core, and render.
// `buildApplication` is shared by `listgate serve` and the tests, so tests exercise
// the same app that runs in production.
import Hummingbird
import ListgateCore
import Logging
import ServiceLifecycle

public struct ListgateHTTPServer: Sendable {
    let store: any ListgateStore
    let host: String
    let port: Int
    let logger: Logger
    /// Background services that live and stop with the server (the outbox worker).
    let services: [any Service]

    public init(store: any ListgateStore, host: String, port: Int, logger: Logger, services: [any Service] = []) {
        self.store = store
        self.host = host
        self.port = port
        self.logger = logger
        self.services = services
    }

    public func buildApplication() -> some ApplicationProtocol {
        let router = Router()
        HealthRoutes(store: store).addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "listgate"),
            services: services,
            logger: logger)
    }

    /// Runs the server and its services until SIGTERM or SIGINT, then shuts all of
    /// them down gracefully (the worker finishes the message it is sending).
    public func run() async throws {
        try await buildApplication().runService()
    }
}

/// `GET /healthz`: 200 `ok` while the database answers, 503 otherwise.
struct HealthRoutes: Sendable {
    let store: any ListgateStore

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ -> Response in
            guard await store.isHealthy() else {
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "unavailable\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
    }
}
