// The pages of the company's own website that a list sends people to: where a visitor
// lands after the subscribe form, after confirming and after leaving, and the privacy
// policy the subscribe page and the confirmation mail link to. Each is optional; without
// one, listgate shows its own page (and no privacy link).
import Foundation

/// One of a list's website pages, named as on the command line (`--thanks-url`).
public enum SitePage: String, Sendable, CaseIterable {
    case thanks, confirmed, unsubscribed, privacy

    /// The `lists` column that holds it, and the key in `list_updated` events and JSON.
    public var field: String { "\(rawValue)_url" }
}

public struct SitePages: Sendable, Equatable {
    private var urls: [SitePage: SitePageURL] = [:]

    public init(_ urls: [SitePage: SitePageURL] = [:]) { self.urls = urls }

    public subscript(page: SitePage) -> SitePageURL? {
        get { urls[page] }
        set { urls[page] = newValue }
    }

    public var thanks: SitePageURL? { urls[.thanks] }
    public var confirmed: SitePageURL? { urls[.confirmed] }
    public var unsubscribed: SitePageURL? { urls[.unsubscribed] }
    public var privacy: SitePageURL? { urls[.privacy] }
}

/// An absolute `http` or `https` URL of a page, as it will be written into a `Location`
/// header, an `href` and a mail: no spaces or control characters (nothing that could
/// break a header or a line), no user name or password, at most 2,000 bytes.
public struct SitePageURL: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) throws(DomainError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func refuse(_ reason: String) -> DomainError { .invalidPageURL(text, reason: reason) }
        guard !trimmed.isEmpty else { throw refuse("it is empty") }
        guard trimmed.utf8.count <= 2000 else { throw refuse("it is longer than 2,000 bytes") }
        guard trimmed.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F }) else {
            throw refuse("it has spaces, control or non-ASCII characters (percent-encode them)")
        }
        guard let url = URLComponents(string: trimmed), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https"
        else { throw refuse("it must start with https:// or http://") }
        guard let host = url.host, !host.isEmpty else { throw refuse("it has no host") }
        guard url.user == nil, url.password == nil else { throw refuse("it must not carry a user name or password") }
        // The privacy URL is written into mail, where the content guard would read
        // `…info@example.jp` as an address the list may not mail and hold every message.
        guard !trimmed.contains("@") else { throw refuse("it contains an @ (write it as %40)") }
        // The scheme in lower case, as the schema expects and browsers write it.
        self.text = scheme + trimmed.dropFirst(scheme.count)
    }

    public var description: String { text }
}
