// Who sends a list's mail. Japan's Act on Specified Electronic Mail (Art. 4) asks every
// mail to name its sender, the sender's address and a contact for complaints; a list
// that has them set carries them in the footer of every auto-reply, and hands them to the
// newsletter sender (`GET /api/v1/lists`, snapshot metadata) so its mail can carry them too.
import Foundation

public struct SenderIdentity: Sendable, Equatable {
    /// The company or person legally responsible, e.g. 株式会社サンプル.
    public var legalName: String?
    public var postalAddress: String?
    public var contact: SenderContact?

    public init(legalName: String? = nil, postalAddress: String? = nil, contact: SenderContact? = nil) {
        self.legalName = legalName
        self.postalAddress = postalAddress
        self.contact = contact
    }

    public var isEmpty: Bool { legalName == nil && postalAddress == nil && contact == nil }

    public static let legalNameLimit = OneLineName.limit
    public static let postalAddressLimit = 300

    /// A legal name as `--legal-name` takes it: one line of at most 200 characters.
    public static func legalName(_ text: String) throws(DomainError) -> String {
        try line(text, field: "--legal-name", limit: legalNameLimit)
    }

    /// A postal address as `--postal-address` takes it: one line of at most 300 characters
    /// (「〒100-0001 東京都千代田区千代田1-1 サンプルビル5階」 is 30).
    public static func postalAddress(_ text: String) throws(DomainError) -> String {
        try line(text, field: "--postal-address", limit: postalAddressLimit)
    }

    private static func line(_ text: String, field: String, limit: Int) throws(DomainError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .invalidSenderIdentity(field: field, reason: "it is empty") }
        if trimmed.unicodeScalars.count > limit {
            throw .invalidSenderIdentity(field: field, reason: "longer than \(limit) characters")
        }
        if let problem = OneLineName.lineBreakProblem(trimmed) { throw .invalidSenderIdentity(field: field, reason: problem) }
        // The content guard would read it as an address the mail may not contain, and
        // quarantine every mail of the list: an address belongs in --contact.
        if trimmed.contains("@") || trimmed.contains("＠") {
            throw .invalidSenderIdentity(field: field, reason: "it contains an @; give an address with --contact")
        }
        return trimmed
    }
}

/// A change to a sender identity (`--legal-name`, … on `lists create` and `lists update`):
/// nil leaves a part as it is, `.some(nil)` clears it.
public struct SenderIdentityChange: Sendable {
    public var legalName: String??
    public var postalAddress: String??
    public var contact: SenderContact??

    public init(legalName: String?? = nil, postalAddress: String?? = nil, contact: SenderContact?? = nil) {
        self.legalName = legalName
        self.postalAddress = postalAddress
        self.contact = contact
    }

    public var isEmpty: Bool { legalName == nil && postalAddress == nil && contact == nil }

    public func apply(to identity: inout SenderIdentity) {
        if let legalName { identity.legalName = legalName }
        if let postalAddress { identity.postalAddress = postalAddress }
        if let contact { identity.contact = contact }
    }
}

/// Where complaints go: an address, or a page of the sender's website.
public enum SenderContact: Sendable, Equatable, CustomStringConvertible {
    case address(EmailAddress)
    case page(SitePageURL)

    /// `--contact`: a URL when it starts with `http://` or `https://`, an address otherwise.
    public init(_ text: String) throws(DomainError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lowered = trimmed.lowercased()
        if lowered.hasPrefix("https://") || lowered.hasPrefix("http://") {
            do {
                self = .page(try SitePageURL(trimmed))
            } catch {
                throw .invalidSenderIdentity(field: "--contact", reason: "\(error)")
            }
            return
        }
        do {
            self = .address(try EmailAddress(trimmed))
        } catch {
            throw .invalidSenderIdentity(
                field: "--contact", reason: "not an address (\(error)) nor a URL starting with https://")
        }
    }

    /// As stored, shown and written into mail.
    public var text: String {
        switch self {
        case .address(let address): address.entered
        case .page(let url): url.text
        }
    }

    public var description: String { text }

    public var address: EmailAddress? {
        if case .address(let address) = self { return address }
        return nil
    }
}
