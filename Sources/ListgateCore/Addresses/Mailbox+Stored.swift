// Rebuilding a Mailbox from its stored parts, and showing it the way people write it.
extension Mailbox {
    /// A mailbox from values that were validated when they were stored.
    public init(displayName: String?, address: EmailAddress) throws(EmailAddressError) {
        guard let displayName, !displayName.isEmpty else {
            try self.init(address.entered)
            return
        }
        let escaped = displayName.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        try self.init("\"\(escaped)\" <\(address.entered)>")
    }

    /// `Name <addr@example.org>`, or the bare address without a name. For display
    /// only: mail headers are built by the MIME builder with RFC 2047 encoding.
    public var formatted: String {
        guard let displayName, !displayName.isEmpty else { return address.entered }
        return "\(displayName) <\(address.entered)>"
    }
}
