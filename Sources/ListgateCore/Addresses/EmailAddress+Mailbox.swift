// One mailbox, one limit: the mailbox key is the identity key with any +tag removed from
// the local part (`victim+1@example.com` → `victim@example.com`). Many providers deliver
// every +tag to the same inbox, so the per-address cooldown, the daily limit and the
// suppressions that stop mail count by this key as well as by the identity key.
extension EmailAddress {
    public var mailboxKey: String { Self.mailboxKey(ofIdentityKey: identityKey) }

    /// The mailbox key of a stored identity key (local part lower-cased already).
    public static func mailboxKey(ofIdentityKey key: String) -> String {
        guard let at = key.lastIndex(of: "@") else { return key }
        let local = key[..<at]
        guard let plus = local.firstIndex(of: "+"), plus != local.startIndex else { return key }
        return String(local[..<plus]) + String(key[at...])
    }
}
