// The one lower-case hex encoder: digests stored in the database (the ledger's chain,
// address hashes, migration checksums, token digests) and random identifiers.
import Crypto
import Foundation

extension SHA256 {
    /// Lower-case hex digest, the form stored in the database.
    package static func hex<D: DataProtocol>(_ data: D) -> String {
        hash(data: data).hexString
    }
}

package enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lower-case digits, high nibble first.
    @inline(__always)
    package static func append(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0f)])
    }
}

extension Sequence where Element == UInt8 {
    package var hexString: String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in self { Hex.append(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }
}
