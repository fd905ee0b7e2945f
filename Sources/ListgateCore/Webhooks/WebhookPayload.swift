// The body a receiver gets: one JSON object, its keys in a fixed order, built from the
// delivery's columns and its event's at each attempt (so an address erased since is not
// sent). README, "Receiving webhooks", documents every field.
import Foundation

public enum WebhookPayload {
    /// `{"id","type","list","email","address_hash","occurred_at","detail"}`. A `forgotten`
    /// body has no `email` key at all; a delivery whose person was forgotten after it was
    /// queued says `"email":null`. `address_hash` (the ledger's keyed hash of the address)
    /// lets a receiver match a later `forgotten` to what it holds.
    public static func body(for delivery: DueWebhookDelivery) -> [UInt8] {
        var json = "{\"id\":" + JSONString.quoted(delivery.publicID)
        json += ",\"type\":" + JSONString.quoted(delivery.type.rawValue)
        json += ",\"list\":" + JSONString.quoted(delivery.listSlug)
        if delivery.type != .forgotten {
            json += ",\"email\":" + (delivery.email.map(JSONString.quoted) ?? "null")
        }
        json += ",\"address_hash\":" + (delivery.addressHash.map(JSONString.quoted) ?? "null")
        json += ",\"occurred_at\":" + JSONString.quoted(delivery.occurredAt)
        json += ",\"detail\":" + shared(detail: delivery.detail)
        json += "}"
        return Array(json.utf8)
    }

    /// Detail keys a receiver has no use for and that describe the person: the network
    /// and browser they confirmed from stay in the ledger.
    static let withheld: Set<String> = ["client_network", "user_agent"]

    /// The event's detail without the withheld keys, in the ledger's spelling.
    static func shared(detail: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: Any] else { return "{}" }
        let members = object.compactMap { key, value -> (String, String)? in
            guard !withheld.contains(key), let text = value as? String else { return nil }
            return (key, text)
        }.sorted { $0.0 < $1.0 }
        return "{" + members.map { JSONString.quoted($0.0) + ":" + JSONString.quoted($0.1) }.joined(separator: ",") + "}"
    }
}
