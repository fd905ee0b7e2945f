// What a person is shown when they agree to receive a list, and the version that names
// it in the ledger. Consent must be provable long after the templates were edited (Japan's
// Act on Specified Electronic Mail, GDPR Art. 7(1)), so the version is a hash of the very
// texts that are archived with it: whoever holds the archive can recompute it.
import Crypto
import Foundation

public struct ConsentWording: Sendable, Equatable {
    /// One template as written, placeholders included, named as in `Forms/` without the
    /// extension (`mail/confirmation.ja.text`, `pages/subscribe.ja`).
    public struct Part: Sendable, Equatable, Codable {
        public let name: String
        public let text: String

        public init(name: String, text: String) {
            self.name = name
            self.text = text
        }
    }

    public let locale: ListLocale
    /// In name order, each name once.
    public let parts: [Part]
    public let version: String

    public init(locale: ListLocale, parts: [Part]) {
        var seen = Set<String>()
        self.locale = locale
        self.parts = parts.filter { seen.insert($0.name).inserted }.sorted { $0.name < $1.name }
        version = Self.version(of: self.parts)
    }

    /// The first 16 hex digits of a SHA-256 over each part's name and text, each preceded
    /// by its length in UTF-8 bytes (so no text can be shifted from one part into the next
    /// and keep the hash).
    public static func version(of parts: [Part]) -> String {
        var hasher = SHA256()
        for part in parts {
            for field in [part.name, part.text] {
                hasher.update(data: Data("\(field.utf8.count):".utf8))
                hasher.update(data: Data(field.utf8))
            }
        }
        return String(hasher.finalize().hexString.prefix(16))
    }

    /// Whether `text` could be a version at all (16 lower-case hex digits), before asking
    /// the database.
    public static func isWellFormedVersion(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// A wording as the database keeps it: stored the first time a request named it.
public struct ArchivedWording: Sendable, Equatable {
    public let version: String
    public let locale: ListLocale
    public let parts: [ConsentWording.Part]
    public let firstUsedAt: Date

    public init(version: String, locale: ListLocale, parts: [ConsentWording.Part], firstUsedAt: Date) {
        self.version = version
        self.locale = locale
        self.parts = parts
        self.firstUsedAt = firstUsedAt
    }

    /// The texts still hash to their version: nothing in them was changed since.
    public var isIntact: Bool { ConsentWording.version(of: parts) == version }
}

/// What the database knows of a consent version.
public enum ConsentVersionLookup: Sendable, Equatable {
    case archived(ArchivedWording)
    /// Named by the ledger (first at `firstRecordedAt`) but recorded before wordings were
    /// archived: its text was not kept.
    case recordedWithoutWording(firstRecordedAt: Date)
    case unknown
}
