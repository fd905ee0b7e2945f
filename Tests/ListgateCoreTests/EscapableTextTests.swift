// Specification of EscapableText: values reach templates with every HTML special as a
// grapheme cluster of its own, and are otherwise unchanged.
import ListgateCore
import Testing

@Suite("Escapable text")
struct EscapableTextTests {
    @Test("text without a fused special is returned unchanged", arguments: [
        "", "山田 太郎", "Tom & Jerry's <news>", "Café", "e\u{301}", "👩‍👩‍👧", "\"quoted\"",
    ])
    func unchanged(_ text: String) {
        #expect(EscapableText.make(text) == text)
    }

    @Test("a special fused with a mark keeps only the special", arguments: [
        ("\"\u{301} onfocus=x", "\" onfocus=x"), ("\u{600}\"a", "\"a"), ("<\u{301}b>", "<b>"), ("'\u{20DD}", "'"),
        ("&\u{200D}amp;", "&amp;"),
    ])
    func fused(_ text: String, _ expected: String) {
        let made = EscapableText.make(text)
        #expect(made == expected)
        for character in made where character.unicodeScalars.count > 1 {
            #expect(!character.unicodeScalars.contains { "&<>\"'".unicodeScalars.contains($0) })
        }
    }
}
