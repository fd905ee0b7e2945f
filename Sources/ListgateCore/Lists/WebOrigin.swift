// A web origin as a browser writes it in the `Origin` header (RFC 6454 §6.1, the WHATWG
// URL standard's serialisation): `scheme://host[:port]`, scheme and host in lower case,
// an IDN host as A-labels, and no port when it is the scheme's default. An allowed origin
// is stored in this form and a request's `Origin` read into it, so the two compare as
// strings: `--allow-origin https://X.example:443/` and a browser's `https://x.example`
// are one origin, not a mismatch that refuses every post from the company's site.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct WebOrigin: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// Lower-case host name with IDN labels as A-labels, dotted IPv4, or `[IPv6]`.
    public let host: String
    /// nil for the scheme's default port (80 for http, 443 for https).
    public let port: Int?

    /// Reads `scheme://host[:port]`, optionally followed by one "/". Refused: other
    /// schemes, a user name or password, a path, a query or fragment, white space,
    /// controls and backslashes anywhere (a browser would read `\` as `/`).
    public init(_ text: String) throws(WebOriginError) {
        guard !text.unicodeScalars.contains(where: Self.isForbidden) else { throw .forbiddenCharacter }
        guard let separator = text.range(of: "://") else { throw .notHTTP }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { throw .notHTTP }

        let rest = text[separator.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let tail = rest[authorityEnd...]
        guard !authority.contains("@") else { throw .userinfo }
        if tail.contains("?") || tail.contains("#") { throw .queryOrFragment }
        guard tail.isEmpty || tail == "/" else { throw .path }

        let (hostText, portText) = try Self.splitPort(authority)
        guard !hostText.isEmpty else { throw .missingHost }
        let defaultPort = scheme == "https" ? 443 : 80
        let port = try portText.flatMap(Self.port)
        self.scheme = scheme
        self.host = try Self.normalisedHost(hostText)
        self.port = port == defaultPort ? nil : port
    }

    /// What a browser sends in `Origin` for this origin.
    public var serialized: String {
        scheme + "://" + host + (port.map { ":\($0)" } ?? "")
    }

    public var description: String { serialized }

    // MARK: Parts

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\\" || scalar == "%" || scalar.properties.isWhitespace
            || scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
    }

    /// Host and port text; a bracketed IPv6 address keeps its colons.
    private static func splitPort(_ authority: Substring) throws(WebOriginError) -> (Substring, Substring?) {
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidHost }
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.first == ":" else { throw .invalidHost }
            return (authority[...close], after.isEmpty ? nil : after.dropFirst())
        }
        guard let colon = authority.lastIndex(of: ":") else { return (authority, nil) }
        return (authority[..<colon], authority[authority.index(after: colon)...])
    }

    /// 0...65535; `https://x:` (no digits) is the default port, as a browser reads it.
    private static func port(_ text: Substring) throws(WebOriginError) -> Int? {
        if text.isEmpty { return nil }
        guard text.count <= 5, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let value = Int(text), value <= 65_535 else { throw .invalidPort }
        return value
    }

    private static func normalisedHost(_ text: Substring) throws(WebOriginError) -> String {
        if text.first == "[" { return try ipv6(text.dropFirst().dropLast()) }
        // UTS #46 mapping, roughly: full-width letters and IDNA dots become ASCII, then
        // lower case; the labels that stay non-ASCII become A-labels.
        let mapped = text.unicodeScalars.allSatisfy(\.isASCII)
            ? text.lowercased()
            : String(text).precomposedStringWithCompatibilityMapping.lowercased()
                .replacingOccurrences(of: "\u{3002}", with: ".")
        let labels = mapped.split(separator: ".", omittingEmptySubsequences: false)
        guard !labels.contains(where: \.isEmpty) else { throw .invalidHost }
        var ascii: [String] = []
        for label in labels {
            ascii.append(try aLabel(String(label)))
        }
        let host = ascii.joined(separator: ".")
        guard host.utf8.count <= 253 else { throw .invalidHost }
        // A name whose last label is a number is an IPv4 address, and only dotted decimal
        // is taken: browsers read `0x7f.1` or `010.0.0.1` as other addresses than they look.
        if let last = ascii.last, last.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            guard isDottedDecimalIPv4(ascii) else { throw .invalidHost }
        }
        return host
    }

    /// One label as it travels: letters, digits, "-" and "_" (browsers allow it in host
    /// names), or an IDN label as its A-label.
    private static func aLabel(_ label: String) throws(WebOriginError) -> String {
        if label.unicodeScalars.allSatisfy(\.isASCII) {
            let isHostLabel = label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { scalar in
                    switch scalar {
                    case "a"..."z", "0"..."9", "-", "_": true
                    default: false
                    }
                }
            guard isHostLabel else { throw .invalidHost }
            // A hand-typed A-label must be a real one, or one host would have two spellings.
            if label.hasPrefix(Punycode.acePrefix), Punycode.toUnicode(label: label) == nil { throw .invalidHost }
            return label
        }
        let isLetterOrDigit = label.unicodeScalars.allSatisfy { scalar in
            if scalar.isASCII { return scalar == "-" || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) }
            switch scalar.properties.generalCategory {
            case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
                return true
            default:
                return scalar == "\u{30FB}"  // katakana middle dot
            }
        }
        guard isLetterOrDigit, let encoded = Punycode.toASCII(label: label), encoded.utf8.count <= 63 else {
            throw .invalidHost
        }
        return encoded
    }

    private static func isDottedDecimalIPv4(_ labels: [String]) -> Bool {
        labels.count == 4 && labels.allSatisfy { label in
            label.utf8.count <= 3 && (label == "0" || label.first != "0")
                && label.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                && (Int(label) ?? 256) <= 255
        }
    }

    /// `[2001:DB8:0:0::1]` → `[2001:db8::1]`: the WHATWG serialisation (lower-case hex
    /// without leading zeros, the first longest run of two or more zero pieces as "::").
    private static func ipv6(_ text: Substring) throws(WebOriginError) -> String {
        var address = in6_addr()
        guard !text.isEmpty, text.utf8.count <= 45, inet_pton(AF_INET6, String(text), &address) == 1 else {
            throw .invalidHost
        }
        let bytes = withUnsafeBytes(of: &address) { Array($0) }
        let pieces = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
        var best: Range<Int>?
        var index = 0
        while index < 8 {
            guard pieces[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, pieces[end] == 0 { end += 1 }
            if end - index >= 2, end - index > (best?.count ?? 0) { best = index..<end }
            index = end
        }
        var written = ""
        index = 0
        while index < 8 {
            if let run = best, index == run.lowerBound {
                written += index == 0 ? "::" : ":"
                index = run.upperBound
                continue
            }
            written += String(pieces[index], radix: 16)
            if index < 7 { written += ":" }
            index += 1
        }
        return "[" + written + "]"
    }
}

/// Why a text is not an origin. `description` is a short English reason.
public enum WebOriginError: Error, Equatable, Sendable, CustomStringConvertible {
    case notHTTP
    case forbiddenCharacter
    case userinfo
    case path
    case queryOrFragment
    case missingHost
    case invalidHost
    case invalidPort

    public var description: String {
        switch self {
        case .notHTTP: "an origin starts with http:// or https://"
        case .forbiddenCharacter: "an origin has no spaces, control characters, backslashes or percent signs"
        case .userinfo: "an origin has no user name or password"
        case .path: "an origin has no path"
        case .queryOrFragment: "an origin has no query or fragment"
        case .missingHost: "the origin has no host"
        case .invalidHost: "the host is not a valid host name or IP address"
        case .invalidPort: "the port must be a number from 0 to 65535"
        }
    }
}
