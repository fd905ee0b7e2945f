// The short, URL-safe name of a list (`/lists/{slug}/subscribe`).
public struct ListSlug: Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts `[a-z0-9][a-z0-9-]{0,62}`: lower case only, so two slugs that look the
    /// same in a URL are the same list.
    public init(_ text: String) throws(DomainError) {
        guard let first = text.utf8.first, text.utf8.count <= 63,
              Self.isLowerAlnum(first),
              text.utf8.allSatisfy({ Self.isLowerAlnum($0) || $0 == UInt8(ascii: "-") })
        else {
            throw .invalidSlug(text)
        }
        rawValue = text
    }

    public var description: String { rawValue }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
