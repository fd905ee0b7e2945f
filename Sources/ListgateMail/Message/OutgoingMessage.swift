// One auto-reply (confirmation, unsubscribe link or receipt) before it becomes bytes.
// The shape is the safety rule: one `to`, and no Cc or Bcc fields, so no code path can
// put a second person on a message. Header values are checked when rendering, where
// the failure can name the field.

import Foundation
import ListgateCore

/// A Message-ID (RFC 5322 §3.6.4), angle brackets included.
public struct MessageID: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    /// Beyond this a Message-ID line could approach the 998-octet limit; real ones are
    /// far shorter.
    static let maximumLength = 250

    /// `<` 32 hex digits `@domain>`: 48 bits of time then 80 random, so that messages
    /// queued together sit together in the outbox's unique index
    /// (RandomToken.timeOrderedBytes); `domain` is the From address's asciiDomain, so the
    /// ID is unique to the sender as RFC 5322 recommends. A domain that is not dot-atom
    /// text (only a caller's slip could pass one) is replaced by the reserved
    /// `listgate.invalid` rather than written into a header.
    public static func make(domain: String) -> MessageID {
        let left = RandomToken.timeOrderedHex()
        return MessageID("<" + left + "@" + domain + ">") ?? MessageID(unchecked: "<" + left + "@listgate.invalid>")
    }

    /// Accepts `<left@right>` where both sides are RFC 5322 dot-atom-text: no spaces,
    /// controls, brackets or second "@", so the value cannot break the header it goes in.
    public init?(_ value: String) {
        guard value.utf8.count <= Self.maximumLength, value.hasPrefix("<"), value.hasSuffix(">"),
              value.count >= 5 else { return nil }
        let inner = value.dropFirst().dropLast()
        let sides = inner.split(separator: "@", omittingEmptySubsequences: false)
        guard sides.count == 2, sides.allSatisfy(Self.isDotAtomText) else { return nil }
        self.value = value
    }

    private init(unchecked value: String) {
        self.value = value
    }

    public var description: String { value }

    private static func isDotAtomText(_ text: Substring) -> Bool {
        let atext = "!#$%&'*+-/=?^_`{|}~"
        let atoms = text.split(separator: ".", omittingEmptySubsequences: false)
        return atoms.allSatisfy { atom in
            !atom.isEmpty && atom.unicodeScalars.allSatisfy { scalar in
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9": true
                default: atext.unicodeScalars.contains(scalar)
                }
            }
        }
    }
}

/// A message to exactly one person. There are no Cc/Bcc fields and there must never be.
public struct OutgoingMessage: Sendable {
    public let from: Mailbox
    public let replyTo: EmailAddress?
    public let to: Recipient
    public let subject: String
    public let textBody: String
    public let htmlBody: String
    public let messageID: MessageID
    public let date: Date

    public init(
        from: Mailbox,
        replyTo: EmailAddress?,
        to: Recipient,
        subject: String,
        textBody: String,
        htmlBody: String,
        messageID: MessageID,
        date: Date
    ) {
        self.from = from
        self.replyTo = replyTo
        self.to = to
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.messageID = messageID
        self.date = date
    }
}

/// Why a message could not be rendered. Nothing is ever stripped to make it renderable.
public enum MessageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A CR, LF, NUL, other control character or Unicode line/paragraph separator in a
    /// header value; `field` is the header name ("Subject", "From").
    case headerInjection(field: String)

    public var description: String {
        switch self {
        case .headerInjection(let field):
            "the \(field) header would contain a line break or control character; it was refused, not stripped"
        }
    }
}
