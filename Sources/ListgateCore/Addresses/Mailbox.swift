// Mailbox: a display name plus exactly one address, as typed for options such as --from:
// `Name <addr@example.org>`, `"Quoted, Name" <addr@example.org>` or a bare address.
// The name comes back unquoted and unescaped; "=?...?=" encoded words are kept as typed,
// never decoded, so decoding cannot produce header syntax. Whoever writes the name into a
// header must encode it. The part inside <...> goes through EmailAddress unchanged, so it
// gets exactly the same checks as any other address.

import Foundation

/// A display name + address, e.g. the --from option: `Name <addr@example.org>` or a bare
/// `addr@example.org`.
public struct Mailbox: Sendable, Hashable {
    /// Unquoted, unescaped; nil when absent or empty. May be Japanese.
    public let displayName: String?
    public let address: EmailAddress

    public init(_ text: String) throws(EmailAddressError) {
        let scalars = AddressSyntax.trimmingBlanks(text.unicodeScalars)
        guard !scalars.isEmpty else { throw .empty }
        // The whole input, name included: a line break in the name is an injection too.
        // Unicode spaces are fine in a name ("山田　太郎"); EmailAddress refuses them in the address.
        try AddressSyntax.rejectUnsafeScalars(in: scalars, allowingUnicodeSpaces: true)

        guard let open = try Self.openingAngleBracket(in: scalars) else {
            self.displayName = nil
            self.address = try EmailAddress(text)
            return
        }
        guard let close = Self.closingAngleBracket(in: scalars, after: open) else {
            throw .missingClosingAngleBracket
        }
        try Self.rejectTrailingText(scalars[(close + 1)...])
        let name = try Self.displayName(from: scalars[..<open])
        self.address = try EmailAddress(AddressSyntax.string(scalars[(open + 1)..<close]))
        self.displayName = name
    }

    /// The first "<" outside double quotes, or nil for a bare address.
    private static func openingAngleBracket(in scalars: AddressSyntax.Scalars) throws(EmailAddressError) -> Int? {
        var index = scalars.startIndex
        while index < scalars.endIndex {
            switch scalars[index] {
            case "<":
                return index
            case "\"":
                guard let close = AddressSyntax.closingQuote(in: scalars, openingAt: index) else {
                    throw .unterminatedQuote
                }
                index = close + 1
            default:
                index += 1
            }
        }
        return nil
    }

    /// The first ">" after `open` that is outside quotes: `<"a>b"@x.jp>` must reach
    /// EmailAddress whole, to be refused as a quoted local part, not cut at the inner ">".
    private static func closingAngleBracket(in scalars: AddressSyntax.Scalars, after open: Int) -> Int? {
        var index = open + 1
        while index < scalars.endIndex {
            switch scalars[index] {
            case ">":
                return index
            case "\"":
                // An unclosed quote leaves no ">" outside quotes.
                guard let close = AddressSyntax.closingQuote(in: scalars, openingAt: index) else { return nil }
                index = close + 1
            default:
                index += 1
            }
        }
        return nil
    }

    /// Nothing may follow ">"; if what follows looks like more addresses, say so.
    private static func rejectTrailingText(_ rest: AddressSyntax.Scalars) throws(EmailAddressError) {
        guard rest.contains(where: { !$0.properties.isWhitespace }) else { return }
        if rest.contains(where: { "@<,;".unicodeScalars.contains($0) }) { throw .multipleAddresses }
        throw .textAfterAddress
    }

    /// RFC 5322 phrase: words, some of them quoted strings. Outside quotes, characters
    /// that delimit addresses or groups are refused, since the name could otherwise be
    /// read as a second address; inside quotes anything (but controls) goes.
    private static func displayName(from phrase: AddressSyntax.Scalars) throws(EmailAddressError) -> String? {
        guard let first = phrase.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = phrase.lastIndex(where: { !$0.properties.isWhitespace }) else { return nil }
        var name = String.UnicodeScalarView()
        var index = first
        var quoted = false
        while index <= last {
            let scalar = phrase[index]
            switch (quoted, scalar) {
            case (_, "\""):
                quoted.toggle()
            case (true, "\\"):
                // openingAngleBracket proved every quote here is closed, so an escaped
                // character follows; the guard only keeps a logic slip from trapping.
                index += 1
                guard index <= last else { throw .invalidDisplayName }
                name.append(phrase[index])
            case (false, "@"), (false, ","), (false, ";"), (false, ":"),
                 (false, "<"), (false, ">"), (false, "\\"):
                throw .invalidDisplayName
            default:
                name.append(scalar)
            }
            index += 1
        }
        return name.isEmpty ? nil : String(name)
    }
}
