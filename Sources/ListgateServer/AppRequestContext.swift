// The per-request context: Hummingbird's core storage plus the client's address, which
// the rate limiter and the consent ledger (reduced to /24 or /48) need: the peer's, or,
// behind a trusted proxy, the one it forwarded (ClientAddressMiddleware).
import Hummingbird
import ListgateCore
import NIOCore

public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        clientIP = remoteAddress?.ipAddress
    }

    /// Form bodies are small; anything bigger is refused before it is read whole.
    public var maxUploadSize: Int { FormLimits.bodyBytes }

    /// The client's IP address as text, without the port.
    var clientIP: String?
    /// Whether the connection came from a trusted proxy (then `clientIP` is the one it named).
    var throughTrustedProxy = false
    /// On the sender API's routes, what the request's bearer token grants (set by
    /// SenderAuthenticator; nil: no token, or one that grants nothing).
    var senderAccess: SenderAccess?
}

enum FormLimits {
    static let bodyBytes = 64 * 1024
}
