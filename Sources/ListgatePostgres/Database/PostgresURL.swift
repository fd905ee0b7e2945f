// The `postgres://` URL that selects the PostgreSQL store (README, "Running on
// PostgreSQL"), read the way libpq reads it for the parts listgate supports:
// `postgres[ql]://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&connect_timeout=…]`.
// Errors name what is wrong and never repeat the password.
import Foundation
import ListgateCore

public struct PostgresURL: Sendable, Equatable {
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP: loopback, or a private network the operator trusts.
        case disable
        /// TLS when the server offers it, plain otherwise (libpq's default).
        case prefer
        /// TLS or nothing, without checking the certificate (libpq's meaning of `require`).
        case require
        /// TLS with the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// How long a connection may take before the attempt fails (libpq's `connect_timeout`).
    public var connectTimeout: Duration

    /// True for a `--db` / `LISTGATE_DB` value that names PostgreSQL rather than a file.
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    public init(_ text: String) throws(StoreError) {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw .invalidDatabaseURL("not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidDatabaseURL("no host") }
        guard let user = components.user, !user.isEmpty else { throw .invalidDatabaseURL("no user name") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw .invalidDatabaseURL("no database name after the host") }
        self.host = host
        self.port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw .invalidDatabaseURL("port \(port) is out of range") }
        // URLComponents.user/password are already percent-decoded.
        self.username = user
        self.password = components.password
        self.database = database.removingPercentEncoding ?? database
        self.tls = .prefer
        self.connectTimeout = .seconds(10)
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw .invalidDatabaseURL(
                        "sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            case "connect_timeout":
                guard let value = item.value, let seconds = Int(value), (1...300).contains(seconds) else {
                    throw .invalidDatabaseURL("connect_timeout must be a number of seconds from 1 to 300")
                }
                connectTimeout = .seconds(seconds)
            case "application_name":
                continue
            default:
                throw .invalidDatabaseURL("unknown parameter '\(item.name.printable)'")
            }
        }
    }

    /// Where it points, without the password: for errors and logs.
    public var redacted: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
