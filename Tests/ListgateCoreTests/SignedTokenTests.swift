// Specification of the tokens in mailed links.
import Foundation
import Testing
@testable import ListgateCore

@Suite("Signed tokens")
struct SignedTokenTests {
    let signer = TokenSigner(secret: "secret")

    @Test("a signed token checks as valid for its purpose and id")
    func roundTrip() {
        let token = signer.sign(.confirm, id: "abc", expires: Date().addingTimeInterval(60))
        #expect(signer.check(token, purpose: .confirm) == .valid(id: "abc"))
    }

    @Test("a token for one purpose is invalid for another")
    func purposeBound() {
        let token = signer.sign(.block, id: "abc", expires: nil)
        #expect(signer.check(token, purpose: .confirm) == .invalid)
        #expect(signer.check(token, purpose: .unsubscribe) == .invalid)
    }

    @Test("past its expiry a token is expired, not invalid")
    func expiry() {
        let token = signer.sign(.confirm, id: "abc", expires: Date().addingTimeInterval(-1))
        #expect(signer.check(token, purpose: .confirm) == .expired(id: "abc"))
    }

    @Test("another secret (a rotated key) invalidates every token")
    func rotation() {
        let token = signer.sign(.unsubscribe, id: "abc", expires: nil)
        #expect(TokenSigner(secret: "rotated").check(token, purpose: .unsubscribe) == .invalid)
    }

    @Test("changing any character of a token, including the unused bits of the last, invalidates it")
    func tamperEveryCharacter() {
        let token = signer.sign(.confirm, id: "abcdef", expires: Date().addingTimeInterval(3600))
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        var characters = Array(token)
        for index in characters.indices {
            let original = characters[index]
            for replacement in alphabet where replacement != original {
                characters[index] = replacement
                #expect(signer.check(String(characters), purpose: .confirm) != .valid(id: "abcdef"), "changed index \(index) to \(replacement)")
            }
            characters[index] = original
        }
    }

    @Test("an edited expiry breaks the signature")
    func editedExpiry() {
        let token = signer.sign(.confirm, id: "abc", expires: Date(timeIntervalSince1970: 1_000))
        let parts = token.split(separator: ".")
        let extended = "\(parts[0]).9999999999.\(parts[2])"
        #expect(signer.check(extended, purpose: .confirm) == .invalid)
    }
}

@Suite("Batch-signed links")
struct BatchSignedLinkTests {
    @Test("the link writer for streams writes exactly the links LinkBuilder makes one by one, and they check as valid")
    func sameLinks() {
        let links = LinkBuilder(signer: TokenSigner(secret: "secret"), baseURL: "https://lists.example.org/")
        let writer = links.unsubscribeLinks()
        for id in ["a", "3f2b9c0d1e4a5b6c7d8e9f0a1b2c3d4e", TokenSigner.newID(), TokenSigner.newID()] {
            var bytes: [UInt8] = Array("prefix".utf8)
            var utf8 = id
            utf8.withUTF8 { writer.append(subscription: $0, to: &bytes) }
            let written = String(decoding: bytes.dropFirst(6), as: UTF8.self)
            #expect(written == links.unsubscribe(subscription: id))
            let token = String(written.dropFirst("https://lists.example.org/unsubscribe/".count))
            #expect(links.check(token, purpose: .unsubscribe) == .valid(id: id))
            #expect(links.check(token, purpose: .confirm) == .invalid)
        }
    }
}
