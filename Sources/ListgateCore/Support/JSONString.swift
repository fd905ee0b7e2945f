// The one JSON string escaper (RFC 8259): `"`, `\` and the controls below U+0020 are
// escaped (\n \r \t by name, the rest as \u00xx), everything else is copied as UTF-8.
// These are the bytes the ledger hashes into its chain (EventLedger.canonicalJSON), so
// they must never change for a string already recorded. The sender API's NDJSON streams
// ask for `scriptSafe`, which also escapes DEL, U+2028 and U+2029 so a line can be pasted
// into JavaScript; the ledger and the exports never do.

package enum JSONString {
    /// `text` as a JSON string literal, quotes included.
    package static func quoted(_ text: String) -> String {
        var text = text
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        text.withUTF8 { append($0, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    package static func append(_ text: String, scriptSafe: Bool = false, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { append($0, scriptSafe: scriptSafe, to: &bytes) }
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Sets the high bit of every byte below 0x20, equal to `"`, `\` or 0x7F, or not ASCII.
    @inline(__always)
    private static func flags(_ word: UInt64) -> UInt64 {
        func zeroByte(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
        let control = (word &- ones &* 0x20) & ~word & highs
        return control | zeroByte(word ^ (ones &* 0x22)) | zeroByte(word ^ (ones &* 0x5C))
            | zeroByte(word ^ (ones &* 0x7F)) | (word & highs)
    }

    /// The quoted literal of UTF-8 `utf8`, appended to `bytes`. Runs of bytes that need no
    /// escape are copied in one go; most values are one such run.
    package static func append(_ utf8: UnsafeBufferPointer<UInt8>, scriptSafe: Bool = false, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        while index < utf8.count {
            // Eight bytes at a time while none of them needs a look (SWAR).
            if index + 8 <= utf8.count {
                let word = UnsafeRawPointer(utf8.baseAddress! + index).loadUnaligned(as: UInt64.self)
                if flags(word) == 0 {
                    index += 8
                    continue
                }
            }
            let byte = utf8[index]
            if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"),
                !scriptSafe || (byte != 0x7F && byte != 0xE2)
            {
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0xE2:
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; any other E2 sequence is copied.
                if index + 2 < utf8.count, utf8[index + 1] == 0x80, utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9 {
                    bytes.append(contentsOf: Array("\\u202".utf8))
                    bytes.append(utf8[index + 2] == 0xA8 ? UInt8(ascii: "8") : UInt8(ascii: "9"))
                    index += 3
                    runStart = index
                    continue
                }
                bytes.append(byte)
            default:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                Hex.append(byte, to: &bytes)
            }
            index += 1
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        bytes.append(UInt8(ascii: "\""))
    }
}
