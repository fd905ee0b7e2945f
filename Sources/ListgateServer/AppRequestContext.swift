// The per-request context: Hummingbird's core storage plus the peer address, which the
// rate limiter and the consent ledger (reduced to /24 or /48) need.
import Hummingbird
import NIOCore

public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Form bodies are small; anything bigger is refused before it is read whole.
    public var maxUploadSize: Int { FormLimits.bodyBytes }

    /// The client's IP address as text, without the port.
    var clientIP: String? { remoteAddress?.ipAddress }
}

enum FormLimits {
    static let bodyBytes = 64 * 1024
}
