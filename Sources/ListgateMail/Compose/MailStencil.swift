// A mail template rendered once per list, with a mark where each per-message value
// goes; every later mail for that list fills the marks in. Rendering Mustache for each
// of the three parts of every confirmation mail was the largest single cost of a
// subscribe request. The list's own values (its name, the link lifetime) are rendered
// by Mustache itself; only the recipient and the links are filled in here, escaped
// exactly where Mustache would have escaped them.
//
// A mark is `U+E000 key & U+E001`. Where the template escapes the value, the "&"
// arrives as "&amp;", which is how each mark says whether it is escaped. A stencil is
// used only after it has rendered a probe (values full of characters HTML escapes)
// exactly as Mustache does; a template a stencil cannot reproduce (a value inside a
// lambda, say) is simply rendered by Mustache every time.
import ListgateCore
import Synchronization

struct MailStencil: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case text(String)
        case value(key: String, escaped: Bool)
    }

    let pieces: [Piece]

    static let open: Unicode.Scalar = "\u{E000}"
    static let close: Unicode.Scalar = "\u{E001}"

    static func mark(_ key: String) -> String { "\u{E000}\(key)&\u{E001}" }

    /// Reads the output of a template rendered with `mark(key)` as each value; nil if
    /// the marks came out in any other shape.
    init?(rendered: String, keys: Set<String>) {
        var pieces: [Piece] = []
        var text = String.UnicodeScalarView()
        var scalars = rendered.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == Self.open else {
                if scalar == Self.close { return nil }
                text.append(scalar)
                continue
            }
            var inner = ""
            var closed = false
            while let next = scalars.next() {
                if next == Self.close { closed = true; break }
                if next == Self.open { return nil }
                inner.unicodeScalars.append(next)
            }
            guard closed else { return nil }
            let key: String, escaped: Bool
            if inner.hasSuffix("&amp;") {
                (key, escaped) = (String(inner.dropLast(5)), true)
            } else if inner.hasSuffix("&") {
                (key, escaped) = (String(inner.dropLast()), false)
            } else {
                return nil
            }
            guard keys.contains(key) else { return nil }
            pieces.append(.text(String(text)))
            text = String.UnicodeScalarView()
            pieces.append(.value(key: key, escaped: escaped))
        }
        pieces.append(.text(String(text)))
        self.pieces = pieces.filter { $0 != .text("") }
    }

    /// The template's output for these values; nil if one is missing.
    func render(_ values: [String: String]) -> String? {
        var output = ""
        for piece in pieces {
            switch piece {
            case .text(let text):
                output += text
            case .value(let key, let escaped):
                guard let value = values[key] else { return nil }
                output += escaped ? Self.htmlEscaped(value) : value
            }
        }
        return output
    }

    /// The five characters Mustache's HTML escaping replaces, replaced the same way.
    static func htmlEscaped(_ value: String) -> String {
        guard EscapableText.containsSpecial(value) else { return value }
        var output = ""
        output.reserveCapacity(value.utf8.count + 16)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }
}

/// Stencils by list and template part; nil remembers "render this one with Mustache".
final class MailStencils: Sendable {
    private let stencils = Mutex<[String: MailStencil?]>([:])
    private let limit = 512

    func stencil(for key: String, make: () -> MailStencil?) -> MailStencil? {
        if let known = stencils.withLock({ $0[key] }) { return known }
        let made = make()
        stencils.withLock { stencils in
            if stencils.count >= limit { stencils.removeAll() }
            stencils[key] = .some(made)
        }
        return made
    }
}
