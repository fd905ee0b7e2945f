// Every link listgate puts in mail and pages, and the check of the tokens in them, in
// one place: the base URL and the signing key are held once, and each kind of link is
// signed for its own purpose only.
import Foundation

public struct LinkBuilder: Sendable {
    let signer: TokenSigner
    public let baseURL: String
    /// The base URL's path (`/newsletter`, or empty at the root). A proxy that serves
    /// listgate under a path strips it before listgate sees a request, so what a page
    /// links to on listgate itself must put it back.
    public let basePath: String

    public init(signer: TokenSigner, baseURL: String) {
        self.signer = signer
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.basePath = Self.path(ofBaseURL: self.baseURL)
    }

    /// The path part of a base URL, without a trailing "/", percent-encoded as written.
    public static func path(ofBaseURL baseURL: String) -> String {
        let path = URLComponents(string: baseURL)?.percentEncodedPath ?? ""
        return path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    public func confirm(submission id: String, expires: Date) -> String {
        "\(baseURL)/confirm/\(signer.sign(.confirm, id: id, expires: expires))"
    }

    public func block(submission id: String, expires: Date) -> String {
        "\(baseURL)/block/\(signer.sign(.block, id: id, expires: expires))"
    }

    /// No expiry: a link in an old newsletter must still work. Rotating the secret key
    /// invalidates every link.
    public func unsubscribe(subscription id: String) -> String {
        "\(baseURL)/unsubscribe/\(signer.sign(.unsubscribe, id: id, expires: nil))"
    }

    /// Writes the same links as `unsubscribe(subscription:)` into a byte buffer, signing
    /// with a keyed state computed once: for streaming a million recipients.
    public func unsubscribeLinks() -> UnsubscribeLinkWriter {
        UnsubscribeLinkWriter(prefix: Array("\(baseURL)/unsubscribe/".utf8), signer: signer.batch(.unsubscribe))
    }

    /// No login: the signed token is the key. It names one subscription and governs that
    /// list only; like the unsubscribe link it came from, it does not expire.
    public func preferences(subscription id: String) -> String {
        "\(baseURL)/preferences/\(signer.sign(.preferences, id: id, expires: nil))"
    }

    /// Every list of one address (by its keyed hash), until `expires`: only ever mailed to
    /// that address, by the unsubscribe-by-address form.
    public func allLists(addressHash: String, expires: Date) -> String {
        "\(baseURL)/preferences/\(signer.sign(.allLists, id: addressHash, expires: expires))"
    }

    /// The hosted subscribe page: where "subscribe again" and "request a new mail" lead,
    /// always through double opt-in.
    public func subscribe(_ slug: ListSlug) -> String { "\(baseURL)/lists/\(slug)/subscribe" }

    public func check(_ token: String, purpose: TokenPurpose, now: Date = Date()) -> TokenCheck {
        signer.check(token, purpose: purpose, now: now)
    }
}

public struct UnsubscribeLinkWriter {
    let prefix: [UInt8]
    let signer: BatchTokenSigner

    public func append(subscription id: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: prefix)
        signer.append(id: id, to: &bytes)
    }
}
