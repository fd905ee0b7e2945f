// The one person a message goes to. There is deliberately no plural of this type:
// a message holds one Recipient, the envelope gets one RCPT TO, and the outbox table
// has one recipient column (README, invariant 1).
import ListgateCore

public struct Recipient: Sendable, Hashable, CustomStringConvertible {
    public let address: EmailAddress

    /// Refuses the rare valid addresses the outbox cannot hold: a quoted local part
    /// containing a list separator or white space (`"a,b"@example.org`). The outbox's
    /// CHECK constraint refuses the same characters, so such an address fails here,
    /// with a clear error, rather than at INSERT time.
    public init(_ address: EmailAddress) throws(RecipientError) {
        let forbidden: Set<Unicode.Scalar> = [",", ";", "<", ">", " ", "\t", "\r", "\n", "\0"]
        guard !address.smtpPath.unicodeScalars.contains(where: { forbidden.contains($0) }) else {
            throw RecipientError(address: address.entered)
        }
        self.address = address
    }

    /// What goes in `RCPT TO:<…>`, in the `To:` header and in the outbox row:
    /// the local part as entered and the domain in A-labels.
    public var path: String { address.smtpPath }

    public var description: String { path }
}

public struct RecipientError: Error, Equatable, Sendable, CustomStringConvertible {
    public let address: String
    public var description: String {
        "listgate cannot mail this address: its quoted local part contains a separator or white space"
    }
}
