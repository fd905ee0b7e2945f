// Tokens in links listgate mails: `ID.EXPIRY.MAC`, where MAC is HMAC-SHA256 over the
// purpose, the id and the expiry with the secret key. A token for one purpose (confirm)
// can never be used for another (block), an edited expiry breaks the MAC, and the MAC
// is compared in constant time. The id is random and refers to a database row; the
// token itself is never stored.
import Crypto
import Foundation

public enum TokenPurpose: String, Sendable {
    case confirm, block, unsubscribe
    /// One subscription's preferences (the page after an unsubscribe link).
    case preferences
    /// Every list of one address, for 7 days (mailed by the unsubscribe-by-address form).
    case allLists = "all-lists"
}

public enum TokenCheck: Sendable, Equatable {
    case valid(id: String)
    /// Correctly signed but past its expiry: worth a "request a new mail" page.
    case expired(id: String)
    /// Malformed, forged, or for another purpose.
    case invalid
}

public struct TokenSigner: Sendable {
    /// Key bytes (SymmetricKey itself is not Sendable); derived from the secret so any
    /// length of secret gives a full-strength 256-bit key.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(secret: String) {
        keyBytes = Array(SHA256.hash(data: Data(secret.utf8)))
    }

    /// A URL-safe id for a row that a token will point to: 48 bits of time, 80 random
    /// (RandomToken.timeOrderedBytes says why). Ids made within a few seconds share their
    /// first characters, so they go to one place in the table's unique index.
    public static func newID() -> String {
        Base64URL.encode(RandomToken.timeOrderedBytes())
    }

    public func sign(_ purpose: TokenPurpose, id: String, expires: Date?) -> String {
        let expiry = expires.map { String(Int64($0.timeIntervalSince1970)) } ?? "0"
        return "\(id).\(expiry).\(Base64URL.encode(Array(mac(purpose, id, expiry))))"
    }

    public func check(_ token: String, purpose: TokenPurpose, now: Date = Date()) -> TokenCheck {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 200, parts.count == 3,
              let id = Optional(String(parts[0])), !id.isEmpty, id.utf8.allSatisfy(Base64URL.isAlphabet),
              let expiry = Int64(parts[1]), expiry >= 0, String(expiry) == parts[1],
              let mac = Base64URL.decode(String(parts[2])), mac.count == 32,
              // Only the canonical encoding: the last character's unused bits could
              // otherwise be changed and still decode to the same MAC.
              Base64URL.encode(mac) == parts[2]
        else { return .invalid }
        guard HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: Data(Self.message(purpose, id, String(expiry)).utf8), using: key)
        else { return .invalid }
        if expiry != 0, Double(expiry) < now.timeIntervalSince1970 { return .expired(id: id) }
        return .valid(id: id)
    }

    /// A signer for many tokens of one purpose without expiry: the keyed HMAC state is
    /// computed once rather than per token (the recipients stream signs a million links).
    public func batch(_ purpose: TokenPurpose) -> BatchTokenSigner {
        BatchTokenSigner(key: keyBytes, messagePrefix: Array("listgate/\(purpose.rawValue)/".utf8))
    }

    private func mac(_ purpose: TokenPurpose, _ id: String, _ expiry: String) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Data(Self.message(purpose, id, expiry).utf8), using: key)
    }

    private static func message(_ purpose: TokenPurpose, _ id: String, _ expiry: String) -> String {
        "listgate/\(purpose.rawValue)/\(id)/\(expiry)"
    }
}

/// Tokens exactly as `TokenSigner.sign(purpose, id:, expires: nil)` makes them (a test
/// holds the two equal), appended to a byte buffer.
public struct BatchTokenSigner {
    // HMAC (RFC 2104) spelled out over SHA256's buffer-pointer API: the hash states after
    // the padded key blocks are kept, and Crypto's generic DataProtocol path is avoided.
    private let inner: SHA256
    private let outer: SHA256
    private let messagePrefix: [UInt8]

    init(key: [UInt8], messagePrefix: [UInt8]) {
        precondition(key.count <= 64, "an HMAC-SHA256 key longer than the block would be hashed first")
        let block = key + [UInt8](repeating: 0, count: 64 - key.count)
        var inner = SHA256(), outer = SHA256()
        block.map { $0 ^ 0x36 }.withUnsafeBytes { inner.update(bufferPointer: $0) }
        block.map { $0 ^ 0x5C }.withUnsafeBytes { outer.update(bufferPointer: $0) }
        self.inner = inner
        self.outer = outer
        self.messagePrefix = messagePrefix
    }

    /// The id is UTF-8 bytes, as read straight from the database.
    public func append(id: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        var inner = self.inner, outer = self.outer
        messagePrefix.withUnsafeBytes { inner.update(bufferPointer: $0) }
        inner.update(bufferPointer: UnsafeRawBufferPointer(id))
        Self.noExpiry.withUnsafeBytes { inner.update(bufferPointer: $0) }
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        bytes.append(contentsOf: id)
        bytes.append(contentsOf: Self.dotNoExpiryDot)
        outer.finalize().withUnsafeBytes { Base64URL.append($0, to: &bytes) }
    }

    private static let noExpiry = Array("/0".utf8)
    private static let dotNoExpiryDot = Array(".0.".utf8)
}
