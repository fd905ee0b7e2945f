// The rule for names people and admins type (a subscriber's name, a list's name, a
// sender's display name, a token's name): they reach pages, mail headers and columns
// whose CHECK counts at most 200 code points, so they are measured the way SQLite's
// length() measures them, in Unicode scalars, not in Characters. 200 accented letters
// written with combining marks are 200 Characters but 400 scalars; counted as
// Characters they passed here and failed the CHECK as a 500.
public enum OneLineName {
    public static let limit = 200

    /// Why `text` cannot be stored as a name, or nil when it can.
    public static func problem(_ text: String) -> String? {
        if text.unicodeScalars.count > limit { return "longer than \(limit) characters" }
        return lineBreakProblem(text)
    }

    /// Whether the text would break a line, whatever its length.
    public static func lineBreakProblem(_ text: String) -> String? {
        // Line and paragraph separators are not controls, but they break a header line too.
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            return "it contains a control character (e.g. a line break)"
        }
        return nil
    }
}
