// Whether a newsletter carries what the snapshot says its sender must show (Japan's Act
// on Specified Electronic Mail, Art. 4: the sender's name, postal address and a contact)
// and the recipient's own unsubscribe link. A person reads the rendered text, so the
// comparison forgives what a person would not notice: width (１－１ is 1-1, ｶﾞ is ガ),
// white space, and in HTML the tags and character references.
//
// It runs over parts of up to 10 MiB that anyone may send, so every pass is over UTF-8
// octets or scalars (never Characters), each part is normalised at most once whatever
// is asked of it, and substrings are found in linear time (where a naive search is not).

import Foundation

final class SenderIdentityCheck {
    private let parts: [(mediaType: String, text: String)]

    init(parts: [(mediaType: String, text: String)]) {
        self.parts = parts
    }

    /// Each part as a person sees it, normalised; worked out only when a phrase is not
    /// found as written, and then once per part for all the phrases.
    private lazy var seen: [String] = parts.map { part in
        Self.normalised(part.mediaType == "text/html" ? Self.visibleText(ofHTML: part.text) : part.text)
    }

    /// Each part with character references decoded (`&#47;` in a link is a slash).
    private lazy var written: [String] = parts.map { Deobfuscation.referencesDecoded($0.text) }

    /// `written`, normalised, once per part; a text part without "&" has no reference to
    /// decode, and is then `seen` already.
    private lazy var writtenSeen: [String] = parts.indices.map { index in
        let part = parts[index]
        if part.mediaType != "text/html", !part.text.utf8.contains(UInt8(ascii: "&")) { return seen[index] }
        return Self.normalised(written[index])
    }

    /// Whether `phrase` appears in some part.
    func shows(_ phrase: String) -> Bool {
        if parts.contains(where: { Self.contains($0.text, phrase) }) { return true }
        let wanted = Self.normalised(phrase)
        guard !wanted.isEmpty else { return true }
        return seen.contains { Self.contains($0, wanted) } || writtenSeen.contains { Self.contains($0, wanted) }
    }

    /// Whether `fragment` (a link, or its path) is written in some part, in text or markup.
    func links(to fragment: String) -> Bool {
        parts.contains { Self.contains($0.text, fragment) } || written.contains { Self.contains($0, fragment) }
    }

    /// Whether the UTF-8 of `needle` occurs in that of `text`: octet for octet, without
    /// the grapheme breaking of String.contains, and in linear time (Knuth-Morris-Pratt),
    /// where a naive search of a hostile part ("株式会社サンプ" a million times) is not.
    static func contains(_ text: String, _ needle: String) -> Bool {
        var text = text, needle = needle
        return text.withUTF8 { haystack in
            needle.withUTF8 { wanted in
                guard !wanted.isEmpty else { return true }
                guard haystack.count >= wanted.count else { return false }
                // fallback[i]: the length of the longest proper border of wanted[0...i].
                var fallback = [Int](repeating: 0, count: wanted.count)
                var length = 0
                for index in 1..<wanted.count {
                    while length > 0, wanted[index] != wanted[length] { length = fallback[length - 1] }
                    if wanted[index] == wanted[length] { length += 1 }
                    fallback[index] = length
                }
                var matched = 0
                var index = 0
                while index < haystack.count {
                    if matched == 0 {
                        // Nothing matched yet: memchr skips to the next possible start.
                        guard let found = memchr(haystack.baseAddress! + index, Int32(wanted[0]), haystack.count - index) else {
                            return false
                        }
                        index = UnsafeRawPointer(found) - UnsafeRawPointer(haystack.baseAddress!)
                    }
                    let byte = haystack[index]
                    while matched > 0, byte != wanted[matched] { matched = fallback[matched - 1] }
                    if byte == wanted[matched] { matched += 1 }
                    if matched == wanted.count { return true }
                    index += 1
                }
                return false
            }
        }
    }

    /// NFKC without white space ("〒１００－０００１ 東京都" and "〒100-0001東京都" compare
    /// equal, and so do half-width ｶﾞ and ガ). The full-width ASCII block is folded by a
    /// table as the text is walked; Foundation's NFKC, slow over 10 MiB, then runs once
    /// over the whole text, and only when some scalar is outside the ranges NFKC is known
    /// to leave alone (ASCII, kana, the unified ideographs, common Japanese punctuation).
    static func normalised(_ text: String) -> String {
        let (folded, needsNFKC) = foldedWithoutWhiteSpace(text)
        guard needsNFKC else { return folded }
        // NFKC may itself produce white space ("½" is not, but U+309B is " ゙").
        return composingVoicedMarks(foldedWithoutWhiteSpace(folded.precomposedStringWithCompatibilityMapping).text)
    }

    /// Foundation's NFKC on Linux maps the half-width voiced marks (ﾞ, ﾟ) to the combining
    /// ones but leaves them uncomposed (ｶﾞ becomes カ U+3099, not ガ): compose each kana
    /// with the mark after it, one pair at a time (which Foundation does right), each
    /// distinct pair once.
    private static func composingVoicedMarks(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value == 0x3099 || $0.value == 0x309A }) else { return text }
        /// By base scalar and mark: the composed scalar, or nil when the pair does not compose.
        var composed: [UInt64: Unicode.Scalar?] = [:]
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        // Held back until the next scalar shows whether a mark composes with it.
        var pending: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            if scalar.value == 0x3099 || scalar.value == 0x309A, let base = pending {
                let pair = UInt64(base.value) << 32 | UInt64(scalar.value)
                let single: Unicode.Scalar?
                if let known = composed[pair] {
                    single = known
                } else {
                    let scalars = (String(base) + String(scalar)).precomposedStringWithCanonicalMapping.unicodeScalars
                    single = scalars.count == 1 ? scalars.first : nil
                    composed[pair] = .some(single)
                }
                if let single {
                    appendUTF8(of: single.value, to: &output)
                    pending = nil
                    continue
                }
            }
            if let pending { appendUTF8(of: pending.value, to: &output) }
            pending = scalar
        }
        if let pending { appendUTF8(of: pending.value, to: &output) }
        return String(decoding: output, as: UTF8.self)
    }

    /// `text` without white space, U+FF01–FF5E folded to ASCII; and whether any scalar is
    /// one that NFKC might change or combine with the one before it.
    private static func foldedWithoutWhiteSpace(_ text: String) -> (text: String, needsNFKC: Bool) {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        var needsNFKC = false
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                // ASCII white space (Unicode's White_Space): tab, LF, VT, FF, CR and space.
                if !(0x09...0x0D).contains(value), value != 0x20 { output.append(UInt8(value)) }
                continue
            }
            switch value {
            case 0xFF01...0xFF5E:
                output.append(UInt8(value - 0xFEE0))
                continue
            case 0x3041...0x3096, 0x30A1...0x30FE, 0x4E00...0x9FFF, 0x3001...0x3002, 0x3005...0x3012, 0x301C:
                break
            default:
                if scalar.properties.isWhitespace { continue }
                needsNFKC = true
            }
            appendUTF8(of: value, to: &output)
        }
        return (String(decoding: output, as: UTF8.self), needsNFKC)
    }

    /// The UTF-8 of a scalar value, without the generic encoder's overhead.
    private static func appendUTF8(of value: UInt32, to output: inout [UInt8]) {
        if value < 0x80 {
            output.append(UInt8(value))
            return
        }
        if value < 0x800 {
            output.append(UInt8(0xC0 | value >> 6))
        } else if value < 0x10000 {
            output.append(UInt8(0xE0 | value >> 12))
            output.append(UInt8(0x80 | (value >> 6) & 0x3F))
        } else {
            output.append(UInt8(0xF0 | value >> 18))
            output.append(UInt8(0x80 | (value >> 12) & 0x3F))
            output.append(UInt8(0x80 | (value >> 6) & 0x3F))
        }
        output.append(UInt8(0x80 | value & 0x3F))
    }

    /// The text of an HTML part without its tags, references decoded. "<" and ">" are
    /// ASCII, which never occurs inside another scalar's UTF-8, so octets will do.
    static func visibleText(ofHTML html: String) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(html.utf8.count)
        var inTag = false
        for byte in html.utf8 {
            if inTag {
                if byte == UInt8(ascii: ">") { inTag = false }
            } else if byte == UInt8(ascii: "<") {
                inTag = true
            } else {
                text.append(byte)
            }
        }
        return Deobfuscation.referencesDecoded(String(decoding: text, as: UTF8.self))
    }
}
