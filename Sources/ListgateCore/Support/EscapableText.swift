// swift-mustache escapes HTML one Character (grapheme cluster) at a time and looks each
// up in a table of five: & < > " '. A quote followed by a combining mark, or a
// prepended mark followed by a quote, is one Character that is not in the table, so it
// went out unescaped: `"́ autofocus onfocus=…` typed as a name broke out of the
// `value="…"` attribute of the re-shown form. Every value handed to a template passes
// through here first: in a cluster that holds one of the five, only those characters
// are kept, each then its own cluster that the escaping does replace. (The marks lost
// are meaningless on punctuation; nothing else is changed.)
public enum EscapableText {
    private static func isSpecial(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "&" || scalar == "<" || scalar == ">" || scalar == "\"" || scalar == "'"
    }

    /// Whether any of `& < > " '` occurs; the common case costs one scan of the bytes.
    public static func containsSpecial(_ value: String) -> Bool {
        value.utf8.contains { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }
    }

    public static func make(_ value: String) -> String {
        guard containsSpecial(value) else { return value }
        var output = ""
        output.reserveCapacity(value.utf8.count)
        for character in value {
            let scalars = character.unicodeScalars
            if scalars.count > 1, scalars.contains(where: isSpecial) {
                output.unicodeScalars.append(contentsOf: scalars.filter(isSpecial))
            } else {
                output.append(character)
            }
        }
        return output
    }
}
