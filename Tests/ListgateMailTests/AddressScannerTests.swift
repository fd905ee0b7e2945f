// Specification of the address scanner's shortcuts: the ASCII fast path of a token's key
// gives exactly the key the slow path (a full parse) gives, and the order in which
// disguises are undone lets none hide behind another.

import Foundation
import ListgateCore
@testable import ListgateMail
import Testing

@Suite("Address scanner")
struct AddressScannerTests {
    /// What the key was before the fast path: the parsed identity key, else the lower-cased text.
    static func slowKey(_ text: String) -> String {
        (try? EmailAddress(text))?.identityKey ?? text.lowercased()
    }

    static let localPieces = ["taro", "TARO", "Hanako.Suzuki", "a", "x+tag", "o'neil", "a..b", ".a", "_", "Z9", "太郎", "ｔａｒｏ"]
    static let domainPieces = [
        "example", "EXAMPLE", "Example", "xn--r8jz45g", "XN--R8JZ45G", "xn--zz", "xn--", "-bad", "bad-", "jp", "JP",
        "123", "a", "例え", "ｅｘａｍｐｌｅ", "co", String(repeating: "l", count: 64), "",
    ]
    static let separators = ["@", "@", "@", "@@", ""]

    static func token(_ generator: inout SeededGenerator) -> String {
        let local = (0..<Int.random(in: 1...2, using: &generator))
            .map { _ in localPieces.randomElement(using: &generator)! }.joined()
        let labels = (0..<Int.random(in: 1...4, using: &generator))
            .map { _ in domainPieces.randomElement(using: &generator)! }
        return local + separators.randomElement(using: &generator)! + labels.joined(separator: ".")
    }

    @Test("the fast key of a token equals its parsed identity key, or its lower-cased text when it does not parse")
    func fastKeyEqualsSlowKey() {
        var generator = SeededGenerator(state: 19_000_019)
        var mismatches: [String] = []
        var asciiParsed = 0
        for _ in 0..<20_000 {
            let text = Self.token(&generator)
            if AddressToken.key(of: text) != Self.slowKey(text) { mismatches.append(text) }
            if AddressToken.isASCII(text), (try? EmailAddress(text)) != nil { asciiParsed += 1 }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        // The generator must reach the fast path with addresses that parse, or this proves nothing.
        #expect(asciiParsed > 500)
    }

    @Test("a full-width at sign written as a character reference is an at sign", arguments: ["&#xFF20;", "&#65312;", "&#xFE6B;"])
    func referencedWideAtSign(reference: String) throws {
        let tokens = AddressScanner.tokens(in: "<p>hanako.suzuki\(reference)other-company.example</p>")
        #expect(tokens.map(\.key) == ["hanako.suzuki@other-company.example"])
    }

    @Test("a message with a full-width at sign written as a character reference fails the guard")
    func referencedWideAtSignFailsTheGuard() throws {
        let raw = try ContentGuardTests.rendered(html: "<p>hanako.suzuki&#xFF20;other-company.example</p>")
        #expect(ContentGuardTests.reason(try ContentGuardTests.contentGuard.check(raw))
            == "the body contains 1 address other than the recipient and the list's own")
    }
}
