// Whether a newsletter carries what the snapshot says its sender must show (Japan's Act
// on Specified Electronic Mail, Art. 4: the sender's name, postal address and a contact)
// and the recipient's own unsubscribe link. A person reads the rendered text, so the
// comparison forgives what a person would not notice: width (１－１ is 1-1), white space,
// and in HTML the tags and character references.

import Foundation

struct SenderIdentityCheck {
    /// Each readable part as a person sees it, normalised; and as written (for links).
    private let seen: [String]
    private let written: [String]

    init(parts: [(mediaType: String, text: String)]) {
        seen = parts.map { part in
            Self.normalised(part.mediaType == "text/html" ? Self.visibleText(ofHTML: part.text) : part.text)
        }
        written = parts.map { Self.normalised(Deobfuscation.referencesDecoded($0.text)) }
    }

    /// Whether `phrase` appears in some part.
    func shows(_ phrase: String) -> Bool {
        let wanted = Self.normalised(phrase)
        guard !wanted.isEmpty else { return true }
        return seen.contains { $0.contains(wanted) } || written.contains { $0.contains(wanted) }
    }

    /// Whether `fragment` (a link, or its path) is written in some part, in text or markup.
    func links(to fragment: String) -> Bool {
        written.contains { $0.contains(fragment) }
    }

    /// NFKC, without white space: "〒１００－０００１ 東京都" and "〒100-0001東京都" compare equal.
    static func normalised(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.precomposedStringWithCompatibilityMapping.unicodeScalars
        where !scalar.properties.isWhitespace {
            scalars.append(scalar)
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
