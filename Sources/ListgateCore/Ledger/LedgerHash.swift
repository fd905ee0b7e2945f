// The bytes the ledger's hash chain is made of, the same for every store: SQLite's and
// PostgreSQL's sealers hash events with these, and `events verify` checks them, so a
// chain means one thing wherever it is kept (docs/design.md, "The sealed ledger").
import Crypto
import Foundation

package enum LedgerHash {
    /// SHA-256 over the previous hash and every stored field, separated by U+001F (a
    /// character no field can contain unnoticed), in a fixed order. Chains sealed by
    /// every version so far use exactly these bytes: changing them would need a migration.
    package static func chain(
        prevHash: String, occurredAt: String, type: String, listID: Int64?, addressHash: String?,
        source: String, consentVersion: String?, detail: String
    ) -> String {
        let fields = [
            prevHash, occurredAt, type, listID.map(String.init) ?? "", addressHash ?? "", source,
            consentVersion ?? "", detail,
        ]
        return SHA256.hex(Data(fields.joined(separator: "\u{1F}").utf8))
    }

    /// The detail as one JSON object with its keys in sorted order, each string written by
    /// `JSONString.quoted`, the same writer the importer's hand-built details use, so every
    /// event's detail has one spelling whichever path wrote it.
    package static func canonicalJSON(_ detail: [String: String]) -> String {
        // Written into one buffer: the feedback route records an event per report, and
        // a string per member cost as much as the insert.
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(2 + detail.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        for (number, member) in detail.sorted(by: { $0.key < $1.key }).enumerated() {
            if number > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONString.append(member.key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONString.append(member.value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
