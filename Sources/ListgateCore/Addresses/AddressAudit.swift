// Stored addresses that the address grammar no longer accepts: rows written before quoted
// local parts, backslashes and comments were refused (see EmailAddress). They are found
// and reported, never rewritten: turning `"victim"@example.com` into victim@example.com
// could merge two people's rows or move a consent record to someone else, so the operator
// decides what each one is. `listgate migrate` reports them (the store finds them).

/// One stored address that `EmailAddress` refuses today.
public struct RefusedStoredAddress: Sendable, Equatable {
    /// The table it is in: `addresses` (`email`), `submissions` (`email`), `outbox`
    /// (`recipient`), `lists` (`from_email` or `reply_to`) or `list_allowed_addresses`.
    public let table: String
    public let rowID: Int64
    public let reason: EmailAddressError

    public init(table: String, rowID: Int64, reason: EmailAddressError) {
        (self.table, self.rowID, self.reason) = (table, rowID, reason)
    }
}

/// What `listgate migrate` asks of a store after migrating: the refused rows, read only.
public protocol AddressAuditStore: Sendable {
    /// Every stored address that no longer parses, in table then row order.
    func refusedStoredAddresses() async throws -> [RefusedStoredAddress]
}
