// The transport layer: how one rendered message reaches its one recipient.
// Two implementations: CurlSMTPTransport (libcurl's SMTP client, one kept-open
// connection per transport) and FileTransport (one .eml file per message, for
// development and for installations that hand mail to something else).
import Foundation
import ListgateCore

public protocol MailTransport: Sendable {
    /// Delivers one rendered RFC 5322 message to its one recipient (one MAIL FROM, one RCPT TO).
    func send(_ message: [UInt8], from sender: EmailAddress, to recipient: Recipient) async throws(DeliveryError)

    /// The same, calling `accepted` as soon as the server has taken the message, on
    /// whatever thread learnt it, before this returns (see DeliveryJournal for why).
    func send(
        _ message: [UInt8], from sender: EmailAddress, to recipient: Recipient, whenAccepted accepted: @escaping @Sendable () -> Void
    ) async throws(DeliveryError)
}

extension MailTransport {
    public func send(
        _ message: [UInt8], from sender: EmailAddress, to recipient: Recipient, whenAccepted accepted: @escaping @Sendable () -> Void
    ) async throws(DeliveryError) {
        try await send(message, from: sender, to: recipient)
        accepted()
    }
}

/// Why a message was not delivered, sorted by what the outbox should do about it.
public enum DeliveryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A 4xx reply, a refused/reset/timed-out connection, a TLS or authentication
    /// problem, a file that could not be written: the message is fine, try it again later.
    case transient(String)
    /// A 5xx reply to this message (unknown recipient, message refused): do not retry.
    case permanent(String)

    public var isPermanent: Bool {
        if case .permanent = self { true } else { false }
    }

    /// The detail without the classification.
    public var reason: String {
        switch self {
        case .transient(let reason), .permanent(let reason): reason
        }
    }

    public var description: String {
        switch self {
        case .transient(let reason): "temporary delivery failure (will retry): \(reason)"
        case .permanent(let reason): "permanent delivery failure: \(reason)"
        }
    }
}

// MARK: - Configuration

/// How an `smtp://` connection is protected (`LISTGATE_SMTP_TLS`). An `smtps://`
/// connection is TLS from its first byte whatever this says.
public enum SMTPTLSMode: String, Sendable, CaseIterable {
    /// STARTTLS or nothing: when the server does not offer it, no credentials and no mail
    /// cross the connection, and the message waits in the outbox (libcurl's CURLUSESSL_ALL).
    case require
    /// STARTTLS when the server offers it, otherwise in the clear (CURLUSESSL_TRY).
    case opportunistic
    /// Never STARTTLS (CURLUSESSL_NONE), for a relay whose certificate cannot be verified.
    /// Not named `none`: beside an optional mode, `.none` would read as "not given".
    case plain = "none"

    /// `require` whenever SMTP credentials are set, since a password must never cross an
    /// unencrypted connection; otherwise `opportunistic`.
    public static func defaultMode(username: String?, password: String?) -> SMTPTLSMode {
        (username ?? "").isEmpty && (password ?? "").isEmpty ? .opportunistic : .require
    }

    /// The words an operator may write, for error messages.
    public static let accepted = "require, opportunistic or none"
}

/// Where mail goes, parsed from a `LISTGATE_SMTP_URL`-style string:
/// - `smtp://host[:port]`: SMTP (port 25 by default), with STARTTLS as `SMTPTLSMode` says;
/// - `smtps://host[:port]`: SMTP over implicit TLS (port 465 by default);
/// - `file:///absolute/dir`: one `.eml` file per message in that directory;
/// - unset or empty: `./mail-outbox` in the current directory, as files.
public enum TransportConfiguration: Equatable, Sendable {
    case smtp(SMTPEndpoint)
    case file(directory: URL)

    /// The directory used when no URL is configured, relative to the current directory.
    public static let defaultOutboxDirectoryName = "mail-outbox"

    /// - Parameter tls: for `smtp://` URLs; ignored for files. `plain` with `smtps://` is
    ///   refused: the operator asked for a clear connection that this URL can never give.
    public init(url: String?, tls: SMTPTLSMode) throws(TransportConfigurationError) {
        let text = url?.trimmingCharacters(in: .whitespaces) ?? ""
        if text.isEmpty {
            let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            self = .file(directory: current.appendingPathComponent(Self.defaultOutboxDirectoryName, isDirectory: true))
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw TransportConfigurationError(url: text, reason: "it has no scheme; \(Self.accepted)")
        }
        switch text[..<colon].lowercased() {
        case "smtp": self = .smtp(try SMTPEndpoint(parsing: text, security: SMTPEndpoint.Security(tls)))
        case "smtps":
            guard tls != .plain else {
                throw TransportConfigurationError(
                    url: text, reason: "smtps:// is always TLS, so the TLS mode cannot be none; use smtp:// for a plain connection")
            }
            self = .smtp(try SMTPEndpoint(parsing: text, security: .implicitTLS))
        case "file": self = .file(directory: try Self.fileDirectory(text))
        case let scheme:
            throw TransportConfigurationError(url: text, reason: "the scheme \"\(scheme)\" is not supported; \(Self.accepted)")
        }
    }

    /// Builds the transport for `url` (see the type's documentation). `username` and
    /// `password` are used for SMTP AUTH when given and non-empty; they are ignored for files.
    /// `tls` nil: `SMTPTLSMode.defaultMode`, so credentials alone make TLS required.
    public static func make(
        url: String?, username: String?, password: String?, tls: SMTPTLSMode? = nil
    ) throws(TransportConfigurationError) -> any MailTransport {
        try TransportConfiguration(url: url, tls: tls ?? .defaultMode(username: username, password: password))
            .makeTransport(username: username, password: password)
    }

    public func makeTransport(username: String?, password: String?) throws(TransportConfigurationError) -> any MailTransport {
        switch self {
        case .smtp(let endpoint):
            try CurlSMTPTransport(endpoint: endpoint, username: username, password: password, connections: 4)
        case .file(let directory):
            FileTransport(directory: directory)
        }
    }

    static let accepted = "use smtp://host:port (STARTTLS), smtps://host:port (implicit TLS) or file:///absolute/directory"

    private static func fileDirectory(_ text: String) throws(TransportConfigurationError) -> URL {
        guard let components = URLComponents(string: text) else {
            throw TransportConfigurationError(url: text, reason: "it is not a valid URL; \(accepted)")
        }
        let host = components.host ?? ""
        guard host.isEmpty || host.lowercased() == "localhost" else {
            throw TransportConfigurationError(url: text, reason: "a file URL cannot name a host (\"\(host)\"); write file:///absolute/directory")
        }
        guard components.query == nil, components.fragment == nil else {
            throw TransportConfigurationError(url: text, reason: "a file URL cannot have a query or a fragment")
        }
        let path = components.path  // percent-decoded
        guard path.hasPrefix("/") else {
            throw TransportConfigurationError(url: text, reason: "a file URL needs an absolute directory path, as in file:///var/spool/listgate")
        }
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }
}

/// An SMTP server as libcurl will be given it.
public struct SMTPEndpoint: Equatable, Sendable, CustomStringConvertible {
    /// Certificates are verified whenever TLS is used.
    public enum Security: Equatable, Sendable, CustomStringConvertible {
        /// `smtp://` with `require`: upgraded with STARTTLS, or nothing is sent.
        case startTLSRequired
        /// `smtp://` with `opportunistic`: upgraded with STARTTLS if the server offers it.
        case startTLSIfOffered
        /// `smtp://` with `none`: never upgraded.
        case plain
        /// `smtps://`: TLS from the first byte.
        case implicitTLS

        init(_ mode: SMTPTLSMode) {
            switch mode {
            case .require: self = .startTLSRequired
            case .opportunistic: self = .startTLSIfOffered
            case .plain: self = .plain
            }
        }

        public var description: String {
            switch self {
            case .startTLSRequired: "STARTTLS required"
            case .startTLSIfOffered: "STARTTLS when offered"
            case .plain: "no TLS"
            case .implicitTLS: "implicit TLS"
            }
        }
    }

    /// The URL handed to libcurl, as configured (trimmed).
    public let url: String
    public let host: String
    /// The port given, or the scheme's default (25 for smtp, 465 for smtps).
    public let port: Int
    public let security: Security

    public var description: String { url }

    init(parsing text: String, security: Security) throws(TransportConfigurationError) {
        guard let components = URLComponents(string: text) else {
            throw TransportConfigurationError(url: text, reason: "it is not a valid URL; \(TransportConfiguration.accepted)")
        }
        guard let host = components.host, !host.isEmpty, host != "[]" else {
            throw TransportConfigurationError(url: text, reason: "it has no host name; write e.g. smtp://mail.example.org:587")
        }
        guard components.user == nil, components.password == nil else {
            throw TransportConfigurationError(url: text, reason: "put the SMTP user name and password in their own settings, not in the URL")
        }
        guard components.query == nil, components.fragment == nil else {
            throw TransportConfigurationError(url: text, reason: "an SMTP URL cannot have a query or a fragment")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw TransportConfigurationError(url: text, reason: "the port \(port) is not between 1 and 65535")
        }
        // libcurl reads a path as the name to announce in EHLO (smtp://host/client.example.org);
        // allow that, but nothing that would not survive as one domain name.
        let path = components.path
        if path.count > 1, path.dropFirst().contains(where: { $0 == "/" || $0.isWhitespace }) {
            throw TransportConfigurationError(url: text, reason: "the path \"\(path)\" is not a host name to announce in EHLO")
        }
        self.url = text
        self.host = host
        self.port = components.port ?? (security == .implicitTLS ? 465 : 25)
        self.security = security
    }
}

public struct TransportConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The offending setting (never contains a password: URLs with credentials are refused).
    public let url: String
    public let reason: String

    public init(url: String, reason: String) {
        self.url = Self.redactingPassword(url)
        self.reason = reason
    }

    /// "smtp://user:secret@host" → "smtp://user:***@host", so the error can be logged.
    static func redactingPassword(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return text }
        let authorityEnd = text[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? text.endIndex
        guard let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
              let colon = text[scheme.upperBound..<at].firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }

    public var description: String { "cannot use the mail transport URL \"\(url)\": \(reason)" }
}
