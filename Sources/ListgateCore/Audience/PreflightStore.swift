// What a preflight (one rendered newsletter checked against a snapshot before a campaign)
// asks of a store: who the To names in the snapshot, which of the addresses found in the
// message belong to the list, and where the check is recorded. Both stores implement it;
// the rules of the check live in ListgateMail's Preflight, never in a store.

/// A snapshot member, named by ids only: a preflight answer never holds an address.
public struct SnapshotRecipient: Sendable, Equatable {
    public let identityKey: String
    /// `subscriptions.recipient_id`, the id a sender sees in the recipients stream.
    public let recipientID: String
    /// `subscriptions.public_id`, which the unsubscribe link is signed for.
    public let subscriptionID: String

    public init(identityKey: String, recipientID: String, subscriptionID: String) {
        self.identityKey = identityKey
        self.recipientID = recipientID
        self.subscriptionID = subscriptionID
    }
}

/// One preflight, as the ledger keeps it: counts and codes, no address, body or header text.
public struct PreflightRecord: Sendable, Equatable {
    public let listID: Int64
    public let snapshotID: String
    public let passed: Bool
    public let problemCodes: [String]
    public let foreignAddresses: Int
    public let subscriberAddresses: Int
    /// The size of the message checked.
    public let octets: Int

    public init(
        listID: Int64, snapshotID: String, passed: Bool, problemCodes: [String], foreignAddresses: Int,
        subscriberAddresses: Int, octets: Int
    ) {
        self.listID = listID
        self.snapshotID = snapshotID
        self.passed = passed
        self.problemCodes = problemCodes
        self.foreignAddresses = foreignAddresses
        self.subscriberAddresses = subscriberAddresses
        self.octets = octets
    }

    /// The `preflight_checked` event's detail, the same on every store.
    public var eventDetail: [String: String] {
        [
            "snapshot_id": snapshotID,
            "verdict": passed ? "pass" : "fail",
            "problems": problemCodes.joined(separator: ","),
            "foreign_addresses": String(foreignAddresses),
            "subscriber_addresses": String(subscriberAddresses),
            "octets": String(octets),
        ]
    }
}

public protocol PreflightStore: Sendable {
    /// The member of the snapshot with this identity key, by primary key; nil when the
    /// snapshot has no such member.
    func snapshotRecipient(snapshotID: String, identityKey: String) async throws -> SnapshotRecipient?
    /// Those of `identityKeys` that have a subscription to the list, in any status
    /// (an unsubscribed person's address is still theirs); asked in batches.
    func subscribedKeys(listID: Int64, among identityKeys: [String]) async throws -> Set<String>
    func newestSnapshotID(listID: Int64) async throws -> String?
    /// Appends `preflight_checked`.
    func recordPreflight(_ record: PreflightRecord, source: EventSource) async throws
}
