// Whether a newsletter carries what the snapshot says its sender must show (Japan's Act
// on Specified Electronic Mail, Art. 4: the sender's name, postal address and a contact)
// and the recipient's own unsubscribe link. A person reads the rendered text, so the
// comparison forgives what a person would not notice: width (１－１ is 1-1), white space,
// and in HTML the tags and character references.

import Foundation

final class SenderIdentityCheck {
    private let parts: [(mediaType: String, text: String)]

    init(parts: [(mediaType: String, text: String)]) {
        self.parts = parts
    }

    /// Each part as a person sees it, normalised; worked out only when a phrase is not
    /// found as written (normalising a 10 MiB part takes a while).
    private lazy var seen: [String] = parts.map { part in
        Self.normalised(part.mediaType == "text/html" ? Self.visibleText(ofHTML: part.text) : part.text)
    }

    /// Each part with character references decoded (`&#47;` in a link is a slash).
    private lazy var written: [String] = parts.map { Deobfuscation.referencesDecoded($0.text) }

    /// Whether `phrase` appears in some part.
    func shows(_ phrase: String) -> Bool {
        if parts.contains(where: { Self.contains($0.text, phrase) }) { return true }
        let wanted = Self.normalised(phrase)
        guard !wanted.isEmpty else { return true }
        return seen.contains { Self.contains($0, wanted) } || written.contains { Self.contains(Self.normalised($0), wanted) }
    }

    /// Whether `fragment` (a link, or its path) is written in some part, in text or markup.
    func links(to fragment: String) -> Bool {
        parts.contains { Self.contains($0.text, fragment) } || written.contains { Self.contains($0, fragment) }
    }

    /// Whether the UTF-8 of `needle` occurs in that of `text`: scalar for scalar, without
    /// the grapheme breaking of String.contains, which is slow over a 10 MiB part.
    static func contains(_ text: String, _ needle: String) -> Bool {
        var text = text, needle = needle
        return text.withUTF8 { haystack in
            needle.withUTF8 { wanted in
                guard let first = wanted.first else { return true }
                guard haystack.count >= wanted.count else { return false }
                var index = 0
                while index <= haystack.count - wanted.count {
                    if haystack[index] == first, memcmp(haystack.baseAddress! + index, wanted.baseAddress!, wanted.count) == 0 {
                        return true
                    }
                    index += 1
                }
                return false
            }
        }
    }

    /// Without white space, and with the Halfwidth and Fullwidth Forms as NFKC maps them
    /// ("〒１００－０００１ 東京都" and "〒100-0001東京都" compare equal). Not full NFKC:
    /// that block is what typing produces, and a scalar pass over a 10 MiB part is fast
    /// where Foundation's normalisation of it is not.
    static func normalised(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !scalar.properties.isWhitespace {
            switch scalar.value {
            case 0xFF01...0xFF5E:
                scalars.append(Unicode.Scalar(scalar.value - 0xFEE0)!)
            case 0xFF00...0xFFEF:
                scalars.append(contentsOf: String(scalar).precomposedStringWithCompatibilityMapping.unicodeScalars)
            default:
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// The text of an HTML part without its tags, references decoded.
    static func visibleText(ofHTML html: String) -> String {
        var text = ""
        var inTag = false
        for character in html {
            if inTag {
                if character == ">" { inTag = false }
            } else if character == "<" {
                inTag = true
            } else {
                text.append(character)
            }
        }
        return Deobfuscation.referencesDecoded(text)
    }
}
