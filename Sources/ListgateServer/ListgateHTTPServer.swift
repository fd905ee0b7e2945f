// The HTTP face of listgate. Routes are thin: they decode, call the core, and render.
// `buildApplication` is shared by `listgate serve` and the tests, so tests exercise
// the same app that runs in production.
import Foundation
import Hummingbird
import ListgateCore
import ListgateMail
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Used in links in mail; defaults to http://HOST:PORT.
    public var baseURL: String?
    /// LISTGATE_RATE_LIMITS: its per-IP part limits the list forms' posts.
    public var rateLimits = RateLimits.defaults
    /// What the forms' posts may cause: link lifetimes, and the confirmation mails one
    /// address gets a day (LISTGATE_RATE_LIMITS' per-address part, see `Settings`).
    public var intake = IntakePolicy()
    /// LISTGATE_SECRET_KEY; nil uses the key `migrate` generated.
    public var secretKey: String?
    /// A kept-alive connection on which nothing arrives for this long after an answer is
    /// closed (Hummingbird's idle timeout). nil: never.
    public var idleTimeout: Duration? = .seconds(30)
    /// LISTGATE_METRICS_TOKEN: with it, `/metrics` also answers clients that present it
    /// as a bearer token; without it, loopback clients only.
    public var metricsToken: String?
    /// LISTGATE_TRUSTED_PROXIES / --trusted-proxy: peers whose X-Forwarded-For (or
    /// Forwarded) names the client. None by default: the peer is the client.
    public var trustedProxies = TrustedProxies.none
    /// At most this many open connections (LISTGATE_MAX_CONNECTIONS). When all are taken,
    /// the one that has waited longest for a request gives way to a newcomer; when none can,
    /// new connections wait in the listen queue.
    public var maxConnections = 512
    /// A request head must be complete this long after the connection opened, or after
    /// the first byte of a later request on a kept-alive connection: a client that drips
    /// a head a byte at a time (slowloris) is closed (LISTGATE_HEADER_TIMEOUT).
    public var headerTimeout: Duration = .seconds(10)
    /// While a request body is arriving, at most this long may pass between two of its
    /// parts (LISTGATE_BODY_TIMEOUT).
    public var bodyTimeout: Duration = .seconds(10)
    /// A declared body over its route's limit is answered 413 before any of it is read.
    public var bodyLimits = BodyLimits()
    /// Where the database is, so /healthz can tell a full disk (nil: not checked).
    public var diskSpace: DiskSpace?
    /// LISTGATE_FORMS_DIR: the operator's templates, laid out like `Forms/`, each
    /// replacing the built-in one of the same name (nil: the built-in ones alone).
    public var formsDirectory: String?
    /// The provider webhooks: which origins besides SNS's may serve SNS certificates.
    public var providerWebhooks = ProviderWebhookConfiguration()

    public init() {}

    public var resolvedBaseURL: String { baseURL ?? "http://\(host):\(port)" }
}

public struct ListgateHTTPServer: Sendable {
    let store: any ListgateStore
    let configuration: ServerConfiguration
    let renderer: any AutoReplyRendering
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    /// Background services that live and stop with the server (the outbox worker).
    let services: [any Service]
    /// The provider webhooks' outside reads (SNS certificates and confirmations).
    let urlFetch: any URLFetching

    /// `urlFetch`: ListgateMail's libcurl GET unless a caller hands another.
    public init(
        store: any ListgateStore, configuration: ServerConfiguration, renderer: any AutoReplyRendering,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger, services: [any Service] = [],
        urlFetch: any URLFetching = CurlURLFetch()
    ) {
        self.store = store
        self.configuration = configuration
        self.renderer = renderer
        self.registry = registry
        self.logger = logger
        self.services = services
        self.urlFetch = urlFetch
    }

    /// `onRunning` is called once the server listens (with its port), never before: what
    /// it prints is then true.
    public func buildApplication(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws
        -> some ApplicationProtocol
    {
        let port = configuration.port
        let (router, desk) = try await compose()
        let rules = ConnectionRules(
            headerTimeout: Self.timeAmount(configuration.headerTimeout), bodyTimeout: Self.timeAmount(configuration.bodyTimeout),
            bodyLimits: configuration.bodyLimits)
        let roster = ConnectionRoster(capacity: configuration.maxConnections)
        let logger = logger
        return Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionGuard(rules: rules, roster: roster, logger: logger)],
                idleTimeout: configuration.idleTimeout.map(Self.timeAmount))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "listgate",
                availableConnectionsDelegate: .maximum(configuration.maxConnections, logger: logger)),
            services: services + [desk],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// Every route the server answers; `openapi.yaml` documents exactly these (a test checks).
    public func buildRouter() async throws -> Router<AppRequestContext> {
        try await compose().router
    }

    /// The routes and the desk that decides what the form routes record.
    func compose() async throws -> (router: Router<AppRequestContext>, desk: IntakeDeskService) {
        let policy = configuration.intake
        let secret: String
        if let configured = configuration.secretKey { secret = configured } else { secret = try await store.secretKey() }
        let links = LinkBuilder(signer: TokenSigner(secret: secret), baseURL: configuration.resolvedBaseURL)
        var pages = try Pages.load(formsDirectory: configuration.formsDirectory)
        pages.basePath = links.basePath
        let intake = Intake(store: store, renderer: renderer, links: links, policy: policy, pageWording: pages.consentWording)

        let unsubscribes = Unsubscribes(store: store, renderer: renderer, links: links, policy: policy)
        let desk = IntakeDeskService(desk: IntakeDesk(intake: intake, unsubscribes: unsubscribes), logger: logger)
        let ipLimiter = configuration.rateLimits.perIP.map(RateLimiter.init)
        // One policy for what senders report, whether through the API or a provider.
        let feedback = Feedback(store: store)
        let providerWebhooks = ProviderWebhookRoutes(
            store: store, apply: { events, slug, source in try await feedback.apply(events, toList: slug, source: source) },
            fetch: urlFetch, configuration: configuration.providerWebhooks)

        let addRoutes = { (router: Router<AppRequestContext>) in
            HealthRoutes(store: store, diskSpace: configuration.diskSpace).addRoutes(to: router)
            MetricsRoutes(store: store, registry: registry, access: MetricsAccess(token: configuration.metricsToken))
                .addRoutes(to: router)
            // The posts of the two list forms (subscribe, unsubscribe-by-address): the ones
            // a flood would aim at, so the per-IP limit is theirs alone.
            let listForms = router.group("lists/:slug")
            if let ipLimiter { listForms.add(middleware: FormRateLimitMiddleware(limiter: ipLimiter, intake: intake)) }
            FormRoutes(intake: intake, desk: desk, pages: pages).addRoutes(to: router, listForms: listForms)
            UnsubscribeRoutes(unsubscribes: unsubscribes, intake: intake, desk: desk, pages: pages)
                .addRoutes(to: router, listForms: listForms)
            PreferencesRoutes(unsubscribes: unsubscribes, store: store, pages: pages).addRoutes(to: router)
            SenderAPIRoutes(store: store, links: links)
                .addRoutes(to: router, feedback: FeedbackRoutes(feedback: feedback, lists: store))
            providerWebhooks.addRoutes(to: router)
        }
        // The middleware must be in place before the routes it wraps, and OPTIONS must know
        // every route: so the routes are first laid out on a router that only lists them.
        let survey = Router(context: AppRequestContext.self)
        addRoutes(survey)
        let table = RouteTable(survey.routes.map { (path: $0.path.description, method: $0.method) })

        let router = Router(context: AppRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ClientAddressMiddleware(proxies: configuration.trustedProxies))
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ServerErrorMiddleware(pages: pages))
        router.add(middleware: FormOriginMiddleware(intake: intake, pages: pages))
        router.add(middleware: PathGuardMiddleware(routes: table))
        router.add(middleware: ProblemMiddleware(pages: pages))
        addRoutes(router)
        return (router, desk)
    }

    /// Whether starting failed because the address is taken (another process listens there).
    public static func isAddressInUse(_ error: any Error) -> Bool {
        (error as? IOError)?.errnoCode == EADDRINUSE
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Runs the server and its services until SIGTERM or SIGINT, then shuts all of
    /// them down gracefully (the worker finishes the message it is sending).
    public func run() async throws {
        try await buildApplication().runService()
    }
}

/// `GET /healthz`: 200 `ok` while the database answers and its disk has room to write,
/// 503 otherwise.
struct HealthRoutes: Sendable {
    let store: any ListgateStore
    let diskSpace: DiskSpace?

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("healthz") { _, context -> Response in
            guard await store.isHealthy() else { return Self.text("unavailable\n", status: .serviceUnavailable) }
            if let diskSpace, diskSpace.isLow {
                context.logger.error("the database's disk is (nearly) full", metadata: [
                    "free_bytes": .string(diskSpace.freeBytes().map(String.init) ?? "unknown"),
                    "minimum_free_bytes": .stringConvertible(diskSpace.minimumFreeBytes),
                ])
                return Self.text("unavailable: disk full\n", status: .serviceUnavailable)
            }
            return Self.text("ok\n", status: .ok)
        }
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
