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
        var bytes: [UInt8] = []
        append(delivery, to: &bytes)
        return bytes
    }

    /// The body appended to `bytes`: the worker writes each POST into a buffer it reuses.
    public static func append(_ delivery: DueWebhookDelivery, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"id":"#.utf8)
        JSONString.append(delivery.publicID, to: &bytes)
        bytes.append(contentsOf: #","type":"#.utf8)
        JSONString.append(delivery.type.rawValue, to: &bytes)
        bytes.append(contentsOf: #","list":"#.utf8)
        JSONString.append(delivery.listSlug, to: &bytes)
        if delivery.type != .forgotten {
            bytes.append(contentsOf: #","email":"#.utf8)
            appendOrNull(delivery.email, to: &bytes)
        }
        bytes.append(contentsOf: #","address_hash":"#.utf8)
        appendOrNull(delivery.addressHash, to: &bytes)
        bytes.append(contentsOf: #","occurred_at":"#.utf8)
        JSONString.append(delivery.occurredAt, to: &bytes)
        bytes.append(contentsOf: #","detail":"#.utf8)
        appendShared(detail: delivery.detail, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    private static func appendOrNull(_ text: String?, to bytes: inout [UInt8]) {
        if let text { JSONString.append(text, to: &bytes) } else { bytes.append(contentsOf: "null".utf8) }
    }

    /// Detail keys a receiver has no use for and that describe the person: the network
    /// and browser they confirmed from stay in the ledger.
    static let withheld: Set<String> = ["client_network", "user_agent"]

    /// The event's detail without the withheld keys, in the ledger's spelling.
    static func shared(detail: String) -> String {
        var bytes: [UInt8] = []
        appendShared(detail: detail, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func appendShared(detail: String, to bytes: inout [UInt8]) {
        var detail = detail
        let copied = detail.withUTF8 { appendCanonical($0, to: &bytes) }
        guard !copied else { return }
        bytes.append(contentsOf: generalShared(detail: detail).utf8)
    }

    /// Any JSON object: parsed, the string members kept in key order, quoted again.
    static func generalShared(detail: String) -> String {
        var bytes: [UInt8] = []
        guard let object = try? JSONSerialization.jsonObject(with: Data(detail.utf8)) as? [String: Any] else {
            return "{}"
        }
        let members = object.compactMap { key, value -> (String, String)? in
            guard !withheld.contains(key), let text = value as? String else { return nil }
            return (key, text)
        }.sorted { $0.0 < $1.0 }
        bytes.append(UInt8(ascii: "{"))
        for (number, member) in members.enumerated() {
            if number > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONString.append(member.0, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONString.append(member.1, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The ledger's own form (EventLedger.canonicalJSON: compact, keys in order, every
    /// value a string) copied member by member, the withheld ones skipped, without a
    /// JSON parser: decoding every detail through Foundation showed in the delivery
    /// profile. A string without a backslash reads back as its own bytes, so the copy is
    /// what decoding and quoting again would write. Anything else (escapes, other value
    /// types, other spacing or order) is left to the general path: false, nothing written.
    private static func appendCanonical(_ json: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) -> Bool {
        let quote = UInt8(ascii: "\""), start = bytes.count
        var index = 0
        /// The end of the plain string starting at `index` (past its closing quote).
        func plainString() -> Int? {
            guard index < json.count, json[index] == quote else { return nil }
            var end = index + 1
            while end < json.count, json[end] != quote {
                guard json[end] >= 0x20, json[end] != UInt8(ascii: "\\") else { return nil }
                end += 1
            }
            return end < json.count ? end + 1 : nil
        }
        func fail() -> Bool {
            bytes.removeSubrange(start...)
            return false
        }
        guard json.count >= 2, json[0] == UInt8(ascii: "{") else { return false }
        index = 1
        bytes.append(UInt8(ascii: "{"))
        var previousKey: UnsafeBufferPointer<UInt8>?
        var written = 0
        while index < json.count, json[index] != UInt8(ascii: "}") {
            if previousKey != nil {
                guard json[index] == UInt8(ascii: ",") else { return fail() }
                index += 1
            }
            guard let keyEnd = plainString() else { return fail() }
            let key = UnsafeBufferPointer(rebasing: json[(index + 1)..<(keyEnd - 1)])
            if let previousKey, !previousKey.lexicographicallyPrecedes(key) { return fail() }
            guard key.allSatisfy({ $0 < 0x80 }) else { return fail() }  // byte order is String order for ASCII
            index = keyEnd
            guard index < json.count, json[index] == UInt8(ascii: ":") else { return fail() }
            index += 1
            guard let valueEnd = plainString() else { return fail() }
            if !withheldKey(key) {
                if written > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: json[(keyEnd - key.count - 2)..<keyEnd]))
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: json[index..<valueEnd]))
                written += 1
            }
            previousKey = key
            index = valueEnd
        }
        guard index == json.count - 1 else { return fail() }
        bytes.append(UInt8(ascii: "}"))
        return true
    }

    private static func withheldKey(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        withheldUTF8.contains { $0.elementsEqual(key) }
    }

    private static let withheldUTF8 = withheld.map { Array($0.utf8) }
}
