// The transactional outbox's insert on PostgreSQL: a message is queued inside the
// transaction of the change that causes it (a subscribe request, an unsubscribe link),
// as SQLiteStore.enqueue(_:at:addressHash:mailboxHash:in:) does on SQLite.
import Foundation
import ListgateCore
import PostgresNIO

extension PostgresStore {
    /// Inserts one message inside the caller's transaction and returns its id.
    /// `addressHash` and `mailboxHash` are the recipient's, when the caller has already
    /// computed them; otherwise they are computed with the key read on `connection`.
    @discardableResult
    static func enqueue(
        _ message: NewOutboxMessage, at date: Date, addressHash: String? = nil, mailboxHash: String? = nil,
        on connection: PostgresConnection
    ) async throws -> Int64 {
        var addressHash = addressHash, mailboxHash = mailboxHash
        if addressHash == nil || mailboxHash == nil {
            let keyed = try await addressKeyed(on: connection)
            let identityKey = message.recipient.identityKey
            addressHash = addressHash ?? keyed.hash(identityKey: identityKey)
            mailboxHash = mailboxHash ?? keyed.hash(identityKey: EmailAddress.mailboxKey(ofIdentityKey: identityKey))
        }
        let now = date.stored
        guard let id = try await connection.value("""
            INSERT INTO outbox (message_id, list_id, kind, recipient, address_hash, mailbox_hash, needs_smtputf8,
                                raw_message, next_attempt_at, created_at, updated_at)
            VALUES (\(message.messageID), \(message.listID), \(message.kind.rawValue), \(message.recipient.smtpPath),
                    \(addressHash), \(mailboxHash), \(message.recipient.needsSMTPUTF8), \(Data(message.raw)),
                    \(now), \(now), \(now))
            RETURNING id
            """, as: Int64.self)
        else { throw StoreError.unreadableValue(column: "outbox.id", "a queued message returned no id") }
        return id
    }

    /// The address-hash key read on `connection`, for static helpers that run inside a
    /// transaction and have no store at hand (an instance uses its cached `addressHasher()`).
    static func addressKeyed(on connection: PostgresConnection) async throws -> AddressHasher.Keyed {
        guard let key = try await connection.value(
            "SELECT value FROM settings WHERE key = \(GeneratedKey.addressHashKey.rawValue)", as: String.self)
        else { throw StoreError.needsMigration }
        return AddressHasher.Keyed(key: key)
    }
}
