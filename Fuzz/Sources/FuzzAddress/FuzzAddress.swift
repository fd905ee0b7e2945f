// libFuzzer target: the address parser (EmailAddress, Mailbox, Recipient), the one door
// every address comes in by. Whatever the bytes, parsing must not crash; an address it
// accepts must re-parse to itself from each of its renderings, contain nothing that
// could break a header or an SMTP command, and, if it is deliverable, fit the outbox
// table's CHECK constraint (else the form post that queued it would fail with a 500).
import FuzzDriver
import ListgateCore
import ListgateMail

@main
enum Fuzz {
    static func main() { runFuzzer(fuzzAddress) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAddress(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let mailbox = try? Mailbox(text) { checkMailbox(mailbox) }
    guard let address = try? EmailAddress(text) else { return 0 }

    // A bare address is a Mailbox without a name, the same address.
    guard let mailbox = try? Mailbox(text), mailbox.displayName == nil, same(mailbox.address, address) else {
        fail("Mailbox disagrees with EmailAddress on a bare address", text)
    }
    for (label, rendering) in [("entered", address.entered), ("smtpPath", address.smtpPath),
                               ("displayAddress", address.displayAddress)] {
        guard let again = try? EmailAddress(rendering) else { fail("\(label) \(rendering) does not re-parse", text) }
        guard again.identityKey == address.identityKey, again.asciiDomain == address.asciiDomain else {
            fail("\(label) \(rendering) re-parses to \(again.smtpPath), not \(address.smtpPath)", text)
        }
    }
    checkPath(address, text)
    if let recipient = try? Recipient(address) { checkOutboxConstraint(recipient.path, text) }
    return 0
}

func same(_ a: EmailAddress, _ b: EmailAddress) -> Bool {
    a.localPart == b.localPart && a.asciiDomain == b.asciiDomain && a.unicodeDomain == b.unicodeDomain
}

/// Nothing that ends a header line or an SMTP command, within the SMTP length limits.
func checkPath(_ address: EmailAddress, _ input: String) {
    let path = address.smtpPath
    guard (3...254).contains(path.utf8.count), address.localPart.utf8.count <= 64 else {
        fail("path length \(path.utf8.count) out of bounds", input)
    }
    if path.unicodeScalars.contains(where: isUnsafeInHeader) { fail("control or line break in \(path)", input) }
    let domain = address.asciiDomain
    let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
    guard domain.utf8.count <= 253, labels.count >= 2,
          labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }),
          domain.utf8.allSatisfy({ isLowerLDH($0) || $0 == UInt8(ascii: ".") })
    else { fail("A-label domain \(domain) is not a lower-case host name", input) }
    guard address.identityKey.hasSuffix("@" + domain), address.identityKey == address.identityKey.lowercased() else {
        fail("identity key \(address.identityKey) is not lower case with the A-label domain", input)
    }
}

/// The `recipient` CHECK of the outbox table (Migrations/0001_initial.sql), in Swift.
func checkOutboxConstraint(_ path: String, _ input: String) {
    let forbidden: Set<Unicode.Scalar> = [",", ";", "<", ">", "\t", "\n", "\r", " ", "\0"]
    guard let at = path.lastIndex(of: "@") else { fail("no @ in \(path)", input) }
    let domain = path[path.index(after: at)...].utf8
    guard path.count >= 3, path.count <= 254, at != path.startIndex,
          !path.unicodeScalars.contains(where: forbidden.contains),
          let first = domain.first, isLDH(first), first != UInt8(ascii: "-"),
          domain.allSatisfy({ isLDH($0) || $0 == UInt8(ascii: ".") })
    else { fail("a deliverable recipient the outbox table would refuse: \(path)", input) }
}

/// A display name the parser accepts must be one the MIME renderer can write.
func checkMailbox(_ mailbox: Mailbox) {
    if let name = mailbox.displayName, name.unicodeScalars.contains(where: isUnsafeInHeader) {
        fail("display name with a control or line break: \(name.unicodeScalars.map { $0.value })", name)
    }
}

/// C0 and C1 controls, DEL, U+2028 and U+2029 (MIMERenderer's own list).
func isUnsafeInHeader(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: true
    default: false
    }
}

func isLDH(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"): true
    default: false
    }
}

func isLowerLDH(_ byte: UInt8) -> Bool {
    isLDH(byte) && !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
}

func fail(_ message: String, _ input: String) -> Never {
    fatalError("\(message)\ninput scalars: \(input.unicodeScalars.map { String($0.value, radix: 16) })")
}
