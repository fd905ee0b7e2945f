// Specification of the address parser, as tables: what EmailAddress accepts (and the
// identity key it derives), what it refuses (and why), what Mailbox accepts and refuses,
// and Punycode against the RFC 3492 §7.1 samples. Every expected A-label here was checked
// against an independent Punycode implementation (Python's codec); the RFC samples were
// checked against the RFC text.

import Testing
import ListgateCore

/// The outer suite doubles as a namespace, so the table types and helpers below cannot
/// clash with names in other files of the test target.
@Suite("Address parsing")
struct EmailAddressTests {}

// MARK: - Table types

extension EmailAddressTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let input: String
        let identityKey: String
        let why: String
        init(_ input: String, _ identityKey: String, _ why: String) {
            (self.input, self.identityKey, self.why) = (input, identityKey, why)
        }
        var testDescription: String { "\(why): \(input.debugDescription)" }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let input: String
        let error: EmailAddressError
        let why: String
        init(_ input: String, _ error: EmailAddressError, _ why: String) {
            (self.input, self.error, self.why) = (input, error, why)
        }
        var testDescription: String { "\(why): \(input.debugDescription)" }
    }

    struct Normalised: Sendable, CustomTestStringConvertible {
        let input: String
        let entered: String
        let localPart: String
        let asciiDomain: String
        let unicodeDomain: String
        let needsSMTPUTF8: Bool
        var testDescription: String { input.debugDescription }
    }

    struct PunycodeSample: Sendable, CustomTestStringConvertible {
        let name: String
        let unicode: String
        let punycode: String
        init(_ name: String, _ unicode: String, _ punycode: String) {
            (self.name, self.unicode, self.punycode) = (name, unicode, punycode)
        }
        var testDescription: String { name }
    }

    struct MailboxAccepted: Sendable, CustomTestStringConvertible {
        let input: String
        let displayName: String?
        let identityKey: String
        init(_ input: String, name displayName: String?, _ identityKey: String) {
            (self.input, self.displayName, self.identityKey) = (input, displayName, identityKey)
        }
        var testDescription: String { input.debugDescription }
    }
}

// MARK: - Helpers for the length-limit cases

extension EmailAddressTests {
    static func repeated(_ piece: String, _ count: Int) -> String {
        String(repeating: piece, count: count)
    }

    /// A 64-octet local part: the longest allowed.
    static let local64 = repeated("a", 64)

    /// A domain of exactly `octets` octets: 63-letter "a" labels, then one shorter "b" label,
    /// then ".jp". Valid for the lengths used here (every label 1...63 long).
    static func domain(octets: Int) -> String {
        var labels: [String] = []
        var remaining = octets - ".jp".utf8.count
        while remaining > 63 {
            labels.append(repeated("a", 63))
            remaining -= 64  // the label and the dot after it
        }
        labels.append(repeated("b", remaining))
        return labels.joined(separator: ".") + ".jp"
    }

    /// String's == treats canonically equivalent strings as equal; these checks need the
    /// exact scalars (NFC or not matters for identity keys and checksums).
    static func exactly(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }
}

// MARK: - Tables

extension EmailAddressTests {
    // MARK: Accepted addresses: input, identityKey, reason

    static let acceptedAddresses: [Accepted] = [
        // Plain dot-atom
        Accepted("user@example.com", "user@example.com", "plain"),
        Accepted("first.last@example.jp", "first.last@example.jp", "dots inside the local part"),
        Accepted("x@example.jp", "x@example.jp", "one-character local part"),
        Accepted("1234567890@example.jp", "1234567890@example.jp", "all-digit local part"),
        Accepted("a!#$%&'*+-/=?^_`{|}~z@example.jp", "a!#$%&'*+-/=?^_`{|}~z@example.jp", "every atext special"),
        Accepted("user+news@example.jp", "user+news@example.jp", "plus addressing"),
        Accepted("user+tag+more@example.jp", "user+tag+more@example.jp", "several plus tags"),
        Accepted("user-name_1@example.jp", "user-name_1@example.jp", "hyphen and underscore"),
        // Case and trimming
        Accepted("Taro.Yamada@Example.JP", "taro.yamada@example.jp", "identity key lowercases local part and domain"),
        Accepted("  user@example.jp", "user@example.jp", "leading spaces trimmed"),
        Accepted("user@example.jp \t ", "user@example.jp", "trailing spaces and tabs trimmed"),
        // Domains
        Accepted("user@mail.sub.example.co.jp", "user@mail.sub.example.co.jp", "many labels"),
        Accepted("user@my-host.example.jp", "user@my-host.example.jp", "hyphen inside a label"),
        Accepted("user@123.example.jp", "user@123.example.jp", "numeric label that is not the TLD"),
        Accepted("user@example.co1", "user@example.co1", "TLD with a digit but not all digits"),
        Accepted("user@a.b.c.d.jp", "user@a.b.c.d.jp", "one-letter labels"),
        // IDN domains (A-labels checked with Python's punycode codec)
        Accepted("user@例え.jp", "user@xn--r8jz45g.jp", "Japanese IDN label"),
        Accepted("info@日本語.jp", "info@xn--wgv71a119e.jp", "Japanese IDN label"),
        Accepted("test@ドメイン.テスト", "test@xn--eckwd4c7c.xn--zckzah", "IDN label and IDN TLD"),
        Accepted("user@sub.例え.jp", "user@sub.xn--r8jz45g.jp", "IDN label between ASCII labels"),
        Accepted("user@Bücher.example", "user@xn--bcher-kva.example", "Latin IDN label is lowercased first"),
        Accepted("user@παράδειγμα.δοκιμή", "user@xn--hxajbheg2az3al.xn--jxalpdlp", "Greek IDN"),
        Accepted("user@\u{304B}\u{3099}.jp", "user@xn--v8j.jp", "decomposed が is NFC-normalised before encoding"),
        Accepted("user@\u{212A}ey.jp", "user@key.jp", "KELVIN SIGN normalises to plain k, no A-label"),
        // IDNA label separators (RFC 3490 §3.1)
        Accepted("user@例え。jp", "user@xn--r8jz45g.jp", "ideographic full stop U+3002"),
        Accepted("user@例え．jp", "user@xn--r8jz45g.jp", "full-width full stop U+FF0E"),
        Accepted("user@例え｡jp", "user@xn--r8jz45g.jp", "half-width ideographic full stop U+FF61"),
        // Decision: Halfwidth/Fullwidth Forms in the domain are width-folded (UTS #46)
        Accepted("a@ＸＹＺ.jp", "a@xyz.jp", "full-width letters in the domain fold to ASCII"),
        Accepted("a@ｴｸﾞｻﾞﾝﾌﾟﾙ.jp", "a@xn--ickqs6k2dyb.jp", "half-width katakana folds to エグザンプル"),
        // What a Japanese keyboard types with the IME on: full-width ASCII folds to ASCII
        Accepted("taro＠example.jp", "taro@example.jp", "full-width ＠"),
        Accepted("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "taro@example.jp", "everything full-width"),
        Accepted("ｔａｒｏ@example.jp", "taro@example.jp", "full-width letters in the local part"),
        Accepted("taro．yamada@example.jp", "taro.yamada@example.jp", "full-width dot in the local part"),
        Accepted("ＴＡＲＯ１２３＠Ｅｘａｍｐｌｅ．ＪＰ", "taro123@example.jp", "full-width capitals and digits"),
        Accepted("ｔａｒｏ＋ｎｅｗｓ＠ex－ample．jp", "taro+news@ex-ample.jp", "full-width + and -"),
        Accepted("ｔａｒｏ＿ｙ＠example.jp", "taro_y@example.jp", "full-width underscore"),
        Accepted("\u{3000}taro＠example.jp\u{3000}", "taro@example.jp", "ideographic spaces around it are trimmed"),
        Accepted("山田＠例え．jp", "山田@xn--r8jz45g.jp", "non-ASCII letters are left as they are"),
        // A-labels as input
        Accepted("user@xn--r8jz45g.jp", "user@xn--r8jz45g.jp", "A-label round-trips"),
        Accepted("user@XN--R8JZ45G.JP", "user@xn--r8jz45g.jp", "upper-case A-label is lowercased"),
        Accepted("user@example.xn--zckzah", "user@example.xn--zckzah", "A-label TLD"),
        // SMTPUTF8 local parts (RFC 6531)
        Accepted("山田@example.jp", "山田@example.jp", "Japanese local part"),
        Accepted("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v", "Chinese local part and domain"),
        Accepted("Ünïcödé@example.jp", "ünïcödé@example.jp", "non-ASCII local part lowercased in the key"),
        Accepted("\u{304B}\u{3099}@example.jp", "\u{304C}@example.jp", "decomposed local part gets an NFC key"),
        Accepted("山田.太郎@example.jp", "山田.太郎@example.jp", "non-ASCII dot-atom with a dot"),
        // Length limits, at the boundary
        Accepted(local64 + "@example.jp", local64 + "@example.jp", "64-octet local part"),
        Accepted(repeated("漢", 21) + "a@example.jp", repeated("漢", 21) + "a@example.jp", "64-octet UTF-8 local part"),
        Accepted("a@" + repeated("a", 63) + ".jp", "a@" + repeated("a", 63) + ".jp", "63-octet label"),
        Accepted(local64 + "@" + domain(octets: 189), local64 + "@" + domain(octets: 189), "254-octet address"),
    ]

    // MARK: Refused addresses: input, error, reason

    static let refusedAddresses: [Refused] = [
        // Nothing there
        Refused("", .empty, "empty"),
        Refused("   ", .empty, "only spaces"),
        Refused(" \t ", .empty, "only blanks"),
        // Structure
        Refused("userexample.jp", .missingAt, "no @"),
        Refused("a@b@example.jp", .multipleAt, "two @"),
        Refused("@example.jp", .missingLocalPart, "nothing before the @"),
        Refused("user@", .missingDomain, "nothing after the @"),
        Refused("@", .missingLocalPart, "a lone @"),
        Refused("Taro <taro@example.jp>", .displayNameNotAllowed, "display-name form"),
        Refused("<taro@example.jp>", .displayNameNotAllowed, "angle brackets around an address"),
        Refused("\"Taro\" <taro@example.jp>", .displayNameNotAllowed, "quoted display name"),
        // Header injection: refused, never trimmed
        Refused("a@b.jp\r\nBcc: c@d.jp", .forbiddenCharacter("\r"), "CRLF + Bcc header injection"),
        Refused("a@b.jp\nBcc: c@d.jp", .forbiddenCharacter("\n"), "LF + Bcc header injection"),
        Refused("a@b.jp\r\n", .forbiddenCharacter("\r"), "trailing CRLF is not trimmed"),
        Refused("a@b.jp\n", .forbiddenCharacter("\n"), "trailing LF is not trimmed"),
        Refused("\ra@b.jp", .forbiddenCharacter("\r"), "leading CR is not trimmed"),
        Refused("\"a\r\nb\"@example.jp", .forbiddenCharacter("\r"), "CRLF inside quotes"),
        Refused("a\u{2028}b@example.jp", .forbiddenCharacter("\u{2028}"), "LINE SEPARATOR"),
        Refused("a\u{2029}b@example.jp", .forbiddenCharacter("\u{2029}"), "PARAGRAPH SEPARATOR"),
        Refused("a\u{85}b@example.jp", .forbiddenCharacter("\u{85}"), "NEXT LINE (C1)"),
        // Other controls and invisible characters
        Refused("a\0b@example.jp", .forbiddenCharacter("\0"), "NUL"),
        Refused("a@example.jp\0", .forbiddenCharacter("\0"), "trailing NUL"),
        Refused("a\tb@example.jp", .forbiddenCharacter("\t"), "tab inside"),
        Refused("\"a\tb\"@example.jp", .forbiddenCharacter("\t"), "tab inside quotes"),
        Refused("a\u{7F}b@example.jp", .forbiddenCharacter("\u{7F}"), "DEL"),
        Refused("a\u{1B}b@example.jp", .forbiddenCharacter("\u{1B}"), "ESC"),
        Refused("a\u{9B}b@example.jp", .forbiddenCharacter("\u{9B}"), "C1 control"),
        Refused("a\u{200B}b@example.jp", .forbiddenCharacter("\u{200B}"), "zero-width space"),
        Refused("a\u{202E}b@example.jp", .forbiddenCharacter("\u{202E}"), "right-to-left override"),
        Refused("a\u{FEFF}b@example.jp", .forbiddenCharacter("\u{FEFF}"), "byte order mark"),
        Refused("a\u{FFFD}b@example.jp", .forbiddenCharacter("\u{FFFD}"), "replacement character from bad decoding"),
        Refused("a\u{A0}b@example.jp", .forbiddenCharacter("\u{A0}"), "no-break space"),
        Refused("a\u{3000}b@example.jp", .forbiddenCharacter("\u{3000}"), "ideographic space"),
        Refused("\"a\u{3000}b\"@example.jp", .forbiddenCharacter("\u{3000}"), "ideographic space inside quotes"),
        // Separators that could make a list
        Refused("a@b.jp, c@d.jp", .forbiddenCharacter(","), "comma-separated list"),
        Refused("a@b.jp,c@d.jp", .forbiddenCharacter(","), "comma without space"),
        Refused("a@b.jp;c@d.jp", .forbiddenCharacter(";"), "semicolon-separated list"),
        Refused("a@b.jp c@d.jp", .forbiddenCharacter(" "), "space-separated list"),
        Refused("taro @example.jp", .forbiddenCharacter(" "), "space before the @"),
        Refused("user@ex ample.jp", .forbiddenCharacter(" "), "space in the domain"),
        Refused("a@b.jp>", .forbiddenCharacter(">"), "stray >"),
        Refused("<a@b.jp", .forbiddenCharacter("<"), "stray <"),
        Refused("\"a\" b@example.jp", .quotedLocalPart, "text after a quoted local part: the quotes are named"),
        // Full-width input from Japanese IMEs is folded to ASCII, then checked like anything typed
        Refused("taro＠example.jp＠evil.jp", .multipleAt, "a second full-width ＠ is a second @"),
        Refused("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ，ｂ＠ｃ．ｊｐ", .forbiddenCharacter(","), "a full-width comma makes a list"),
        Refused("＜ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ＞", .displayNameNotAllowed, "full-width angle brackets are angle brackets"),
        Refused("＂ｔａｒｏ＂＠example.jp", .quotedLocalPart, "full-width quotes are quotes"),
        Refused("taro．．yamada@example.jp", .misplacedDot, "full-width double dot in the local part"),
        Refused("ｔａｒｏ\u{3000}ｙａｍａｄａ＠example.jp", .forbiddenCharacter("\u{3000}"),
                "an ideographic space inside the address is refused, only the ends are trimmed"),
        Refused("\u{3000}\u{3000}", .empty, "ideographic spaces alone"),
        // Local part syntax
        Refused(".user@example.jp", .misplacedDot, "leading dot"),
        Refused("user.@example.jp", .misplacedDot, "trailing dot"),
        Refused("us..er@example.jp", .misplacedDot, "double dot"),
        Refused("mailto:user@example.jp", .invalidLocalPart, "mailto: URI"),
        // One mailbox, one spelling: quoted strings, backslashes and comments would give
        // victim@example.com other identity keys that reach the same inbox.
        Refused("\"victim\"@example.com", .quotedLocalPart, "a quoted local part (the same inbox as victim@)"),
        Refused("\"v\\ictim\"@example.com", .quotedLocalPart, "a quoted local part with a quoted-pair"),
        Refused("\"Victim\"@Example.COM", .quotedLocalPart, "a quoted local part in capitals"),
        Refused("\"john smith\"@example.jp", .quotedLocalPart, "a quoted local part with a space"),
        Refused("\"a@b\"@example.com", .quotedLocalPart, "an @ inside quotes"),
        Refused("\"x,y;z\"@example.jp", .quotedLocalPart, "list separators inside quotes"),
        Refused("\"a..b.\"@example.jp", .quotedLocalPart, "dots inside quotes"),
        Refused("\"山田 太郎\"@example.jp", .quotedLocalPart, "a quoted non-ASCII local part"),
        Refused("\"evil@[192.0.2.1]\"@example.com", .quotedLocalPart, "an address literal inside quotes"),
        Refused("\"evil\\@attacker.test\"@example.com", .quotedLocalPart, "an escaped @ inside quotes"),
        Refused("a\"b\"@example.jp", .quotedLocalPart, "a quote in the middle of a dot-atom"),
        Refused("\"a\"b@example.jp", .quotedLocalPart, "a quoted string followed by more local part"),
        Refused("\"a\".b@example.jp", .quotedLocalPart, "a quoted string and an atom mixed"),
        Refused("\"\"@example.jp", .quotedLocalPart, "an empty quoted string"),
        Refused("\"abc@example.jp", .quotedLocalPart, "a quote never closed"),
        Refused("\"abc\\\"@example.jp", .quotedLocalPart, "a closing quote that is escaped"),
        Refused("user@exa\"mple.jp", .quotedLocalPart, "a quote in the domain"),
        Refused("v\\ictim@example.com", .backslash, "a backslash in a dot-atom"),
        Refused("victim\\@example.com", .backslash, "a backslash before the @"),
        Refused("victim@example.com\\", .backslash, "a backslash after the domain"),
        Refused("victim(x)@example.com", .comment, "a comment before the @"),
        Refused("(x)victim@example.com", .comment, "a comment at the start"),
        Refused("victim@(x)example.com", .comment, "a comment after the @"),
        Refused("victim@example.com(x)", .comment, "a comment at the end"),
        Refused("us(er@example.jp", .comment, "an unclosed parenthesis"),
        // Domain syntax
        Refused("user@[192.0.2.1]", .domainLiteralNotSupported, "IPv4 literal"),
        Refused("user@[IPv6:2001:db8::1]", .domainLiteralNotSupported, "IPv6 literal"),
        Refused("user@localhost", .domainNeedsDot, "single label"),
        Refused("user@例え", .domainNeedsDot, "single IDN label"),
        Refused("user@.example.jp", .invalidDomain, "leading dot in the domain"),
        Refused("user@example.jp.", .invalidDomain, "trailing dot is not stripped"),
        Refused("user@example..jp", .invalidDomain, "double dot in the domain"),
        Refused("user@example。。jp", .invalidDomain, "double ideographic full stop"),
        Refused("user@-example.jp", .invalidDomain, "label starts with a hyphen"),
        Refused("user@example-.jp", .invalidDomain, "label ends with a hyphen"),
        Refused("user@exa_mple.jp", .invalidDomain, "underscore in a host name"),
        Refused("user@example.jp/", .invalidDomain, "slash in the domain"),
        Refused("user@example.123", .numericTopLevelDomain, "all-numeric TLD"),
        Refused("user@192.0.2.1", .numericTopLevelDomain, "bare IPv4 address"),
        Refused("user@例え!.jp", .invalidDomain, "ASCII punctuation inside an IDN label"),
        Refused("user@💩.jp", .invalidDomain, "emoji are not IDNA2008 letters"),
        Refused("a@\u{301}b.jp", .invalidDomain, "label starts with a combining mark (the @ is still found)"),
        Refused("user@ex\u{FF0F}ample.jp", .invalidDomain, "full-width slash folds to / and is refused"),
        // A-labels that are not canonical Punycode
        Refused("user@xn--zz--.jp", .invalidDomain, "invalid punycode label"),
        Refused("user@xn--ab-c.jp", .invalidDomain, "truncated punycode"),
        Refused("user@xn--99999999999.jp", .invalidDomain, "punycode that overflows"),
        Refused("user@xn--.jp", .invalidDomain, "empty punycode"),
        Refused("user@xn--ls8h.jp", .invalidDomain, "valid punycode for an emoji"),
        Refused("user@xn--ucher-egd.jp", .invalidDomain, "punycode of a non-NFC label"),
        Refused("user@xn--bcher-kva-.jp", .invalidDomain, "A-label ending with a hyphen"),
        // Found by FuzzAddress: canonical Punycode of a U-label that typing would never
        // give, because width folding maps it (ｶﾀｶﾅ is typed as カタカナ, xn--lcka3d1b): a
        // second identity key for one domain, which would get past a suppression.
        Refused("user@xn--4j7ca3av.jp", .invalidDomain, "A-label of half-width katakana ｶﾀｶﾅ"),
        Refused("a@xn--nn--nkurazs55rauz45razs54uurazs5554uz4rauz46g.jp", .invalidDomain,
                "A-label holding a half-width ｦ (the fuzzer's input)"),
        // Length limits, one over the boundary
        Refused(repeated("a", 65) + "@example.jp", .localPartTooLong, "65-octet local part"),
        Refused(repeated("漢", 22) + "@example.jp", .localPartTooLong, "66-octet UTF-8 local part (22 characters)"),
        Refused("a@" + repeated("a", 64) + ".jp", .labelTooLong, "64-octet label"),
        Refused("a@" + repeated("日本語", 20) + ".jp", .labelTooLong, "IDN label whose A-label exceeds 63 octets"),
        Refused(local64 + "@" + domain(octets: 190), .tooLong, "255-octet address"),
        Refused("a@" + domain(octets: 254), .domainTooLong, "254-octet domain"),
        Refused("a@" + domain(octets: 253), .tooLong, "253-octet domain leaves no room for a local part"),
        Refused("a@" + repeated("例.", 86) + "jp", .domainTooLong, "over 253 octets as A-labels"),
        Refused("a@" + repeated("a.", 127) + "jp", .domainTooLong, "256 characters as typed"),
        Refused(local64 + "@" + [String](repeating: repeated("\u{304B}\u{3099}", 40), count: 3).joined(separator: ".") + ".jp",
                .tooLong, "310 characters as typed (decomposed が), though 208 octets with A-labels"),
    ]

    // MARK: Normalised properties

    static let normalisedAddresses: [Normalised] = [
        Normalised(input: "  Taro.Yamada@Example.JP\t", entered: "Taro.Yamada@Example.JP", localPart: "Taro.Yamada",
                   asciiDomain: "example.jp", unicodeDomain: "example.jp", needsSMTPUTF8: false),
        Normalised(input: "user@例え。jp", entered: "user@例え。jp", localPart: "user",
                   asciiDomain: "xn--r8jz45g.jp", unicodeDomain: "例え.jp", needsSMTPUTF8: false),
        Normalised(input: "山田@ドメイン.テスト", entered: "山田@ドメイン.テスト", localPart: "山田",
                   asciiDomain: "xn--eckwd4c7c.xn--zckzah", unicodeDomain: "ドメイン.テスト", needsSMTPUTF8: true),
        Normalised(input: "user@XN--R8JZ45G.jp", entered: "user@XN--R8JZ45G.jp", localPart: "user",
                   asciiDomain: "xn--r8jz45g.jp", unicodeDomain: "例え.jp", needsSMTPUTF8: false),
        Normalised(input: "A.b@Bücher.Example", entered: "A.b@Bücher.Example", localPart: "A.b",
                   asciiDomain: "xn--bcher-kva.example", unicodeDomain: "bücher.example", needsSMTPUTF8: false),
        Normalised(input: "a@ＸＹＺ.jp", entered: "a@XYZ.jp", localPart: "a",
                   asciiDomain: "xyz.jp", unicodeDomain: "xyz.jp", needsSMTPUTF8: false),
        Normalised(input: "a@ｴｸﾞｻﾞﾝﾌﾟﾙ.jp", entered: "a@ｴｸﾞｻﾞﾝﾌﾟﾙ.jp", localPart: "a",
                   asciiDomain: "xn--ickqs6k2dyb.jp", unicodeDomain: "エグザンプル.jp", needsSMTPUTF8: false),
        Normalised(input: "\u{3000}ｔａｒｏ．Ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｊｐ ", entered: "taro.Yamada@example.jp",
                   localPart: "taro.Yamada", asciiDomain: "example.jp", unicodeDomain: "example.jp", needsSMTPUTF8: false),
        Normalised(input: "山田＋news＠例え．jp", entered: "山田+news@例え.jp", localPart: "山田+news",
                   asciiDomain: "xn--r8jz45g.jp", unicodeDomain: "例え.jp", needsSMTPUTF8: true),
        Normalised(input: "山田+news@example.jp", entered: "山田+news@example.jp", localPart: "山田+news",
                   asciiDomain: "example.jp", unicodeDomain: "example.jp", needsSMTPUTF8: true),
    ]

    // MARK: Punycode: RFC 3492 §7.1 samples (letters as in the RFC) plus IDN labels used above

    static let punycodeSamples: [PunycodeSample] = [
        PunycodeSample("(A) Arabic", "ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn"),
        PunycodeSample("(B) Chinese (simplified)", "他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
        PunycodeSample("(D) Czech", "Pročprostěnemluvíčesky", "Proprostnemluvesky-uyb24dma41a"),
        PunycodeSample("(G) Japanese", "なぜみんな日本語を話してくれないのか", "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"),
        PunycodeSample("(L) 3<nen>B<gumi><kinpachi><sensei>", "3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),
        PunycodeSample("(M) <amuro><namie>-with-SUPER-MONKEYS", "安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),
        PunycodeSample("(N) Hello-Another-Way-<sorezore><no><basho>", "Hello-Another-Way-それぞれの場所", "Hello-Another-Way--fc4qua05auwb3674vfr0b"),
        PunycodeSample("(O) <hitotsu><yane><no><shita>2", "ひとつ屋根の下2", "2-u9tlzr9756bt3uc0v"),
        PunycodeSample("(P) Maji<de>Koi<suru>5<byou><mae>", "MajiでKoiする5秒前", "MajiKoi5-783gue6qz075azm5e"),
        PunycodeSample("(Q) <pafii>de<runba>", "パフィーdeルンバ", "de-jg4avhby1noc0d"),
        PunycodeSample("(R) <sono><supiido><de>", "そのスピードで", "d9juau41awczczp"),
        PunycodeSample("(S) -> $1.00 <-", "-> $1.00 <-", "-> $1.00 <--"),
        PunycodeSample("bücher", "bücher", "bcher-kva"),
        PunycodeSample("例え", "例え", "r8jz45g"),
        PunycodeSample("ASCII only gets a trailing delimiter", "xyz", "xyz-"),
        PunycodeSample("empty", "", ""),
    ]

    static let invalidPunycode: [String] = [
        "bü-",              // non-ASCII before the delimiter
        "ab-c",             // variable-length integer cut short
        "abc-de!f",         // "!" is not a base-36 digit
        "-abc",             // a leading delimiter is read as a (bad) digit
        "99999999999999",   // overflows
    ]

    // MARK: Mailbox tables

    static let acceptedMailboxes: [MailboxAccepted] = [
        MailboxAccepted("Taro Yamada <taro@example.jp>", name: "Taro Yamada", "taro@example.jp"),
        MailboxAccepted("山田 太郎 <taro@example.jp>", name: "山田 太郎", "taro@example.jp"),
        MailboxAccepted("山田\u{3000}太郎\u{3000}<taro@example.jp>", name: "山田\u{3000}太郎", "taro@example.jp"),
        MailboxAccepted("\"Yamada, Taro\" <taro@example.jp>", name: "Yamada, Taro", "taro@example.jp"),
        MailboxAccepted("\"Say \\\"hi\\\"\" <a@example.jp>", name: "Say \"hi\"", "a@example.jp"),
        MailboxAccepted("\"C:\\\\Temp\" <a@example.jp>", name: "C:\\Temp", "a@example.jp"),
        MailboxAccepted("\"a@b; <c>: d\" <a@example.jp>", name: "a@b; <c>: d", "a@example.jp"),
        MailboxAccepted("=?UTF-8?B?5bGx55Sw?= <a@example.jp>", name: "=?UTF-8?B?5bGx55Sw?=", "a@example.jp"),
        MailboxAccepted("Taro Y. Yamada <t@example.jp>", name: "Taro Y. Yamada", "t@example.jp"),
        MailboxAccepted("News (listgate) <news@例え.jp>", name: "News (listgate)", "news@xn--r8jz45g.jp"),
        MailboxAccepted("  Taro <Taro@Example.JP>  ", name: "Taro", "taro@example.jp"),
        MailboxAccepted("Taro<taro@example.jp>", name: "Taro", "taro@example.jp"),
        MailboxAccepted("山田 太郎 <ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ>", name: "山田 太郎", "taro@example.jp"),
        MailboxAccepted("<taro@example.jp>", name: nil, "taro@example.jp"),
        MailboxAccepted("\"\" <taro@example.jp>", name: nil, "taro@example.jp"),
        MailboxAccepted("taro@example.jp", name: nil, "taro@example.jp"),
        MailboxAccepted("山田 <山田@例え.jp>", name: "山田", "山田@xn--r8jz45g.jp"),
    ]

    static let refusedMailboxes: [Refused] = [
        Refused("", .empty, "empty"),
        Refused("Taro <>", .empty, "empty angle brackets"),
        Refused("a@x.jp, b@y.jp", .forbiddenCharacter(","), "two bare addresses"),
        Refused("A <a@x.jp>, B <b@y.jp>", .multipleAddresses, "two name-addr mailboxes"),
        Refused("Taro <a@x.jp> b@y.jp", .multipleAddresses, "a second bare address after >"),
        Refused("Taro <taro@example.jp> extra", .textAfterAddress, "text after >"),
        Refused("Taro <a@b.jp>>", .textAfterAddress, "a second >"),
        Refused("Taro <taro@example.jp", .missingClosingAngleBracket, "no closing >"),
        Refused("Taro <a@x.jp <b@y.jp>", .forbiddenCharacter(" "), "nested < leaves a space in the address"),
        Refused("taro@example.jp <taro@example.jp>", .invalidDisplayName, "unquoted @ in the name"),
        Refused("Yamada, Taro <taro@example.jp>", .invalidDisplayName, "unquoted comma in the name"),
        Refused("Taro;Hanako <taro@example.jp>", .invalidDisplayName, "unquoted semicolon in the name"),
        Refused("Group: <a@x.jp>", .invalidDisplayName, "group syntax"),
        Refused("Taro > <a@b.jp>", .invalidDisplayName, "unquoted > in the name"),
        Refused("Ta\\ro <a@b.jp>", .invalidDisplayName, "backslash outside quotes"),
        Refused("\"Taro <taro@example.jp>", .unterminatedQuote, "quote in the name never closed"),
        Refused("Taro\r\nBcc: x@evil.jp <taro@example.jp>", .forbiddenCharacter("\r"), "header injection in the name"),
        Refused("Taro <taro@example.jp>\r\n", .forbiddenCharacter("\r"), "trailing CRLF"),
        Refused("\"Taro\nBcc: x@evil.jp\" <taro@example.jp>", .forbiddenCharacter("\n"), "LF inside a quoted name"),
        Refused("Taro\0 <taro@example.jp>", .forbiddenCharacter("\0"), "NUL in the name"),
        Refused("Taro\u{2028} <taro@example.jp>", .forbiddenCharacter("\u{2028}"), "LINE SEPARATOR in the name"),
        Refused("Taro <taro＠localhost>", .domainNeedsDot, "the address inside <> is folded and checked the same way"),
        Refused("Taro <taro@localhost>", .domainNeedsDot, "the address inside <> gets the same checks"),
        Refused("\"a<b\"@example.jp", .quotedLocalPart, "a bare quoted local part holding a <"),
        Refused("Taro <\"a>b\"@example.jp>", .quotedLocalPart, "a quoted local part holding a > inside <>"),
        Refused("Taro <\"taro\"@example.jp>", .quotedLocalPart, "a quoted local part inside <>"),
        Refused("Taro <ta\\ro@example.jp>", .backslash, "a backslash inside <>"),
        Refused("Taro <taro(x)@example.jp>", .comment, "a comment inside <>"),
    ]
}

// MARK: - Tests

extension EmailAddressTests {
    @Suite("Email addresses")
    struct Addresses {
        @Test("accepts, with the expected identity key", arguments: EmailAddressTests.acceptedAddresses)
        func accepts(_ example: Accepted) throws {
            let address = try EmailAddress(example.input)
            #expect(address.identityKey == example.identityKey)
            #expect(exactly(address.identityKey) == exactly(example.identityKey), "identity key must be scalar-identical")
            #expect(address.smtpPath.utf8.count <= 254)
        }

        @Test("refuses, with the expected reason", arguments: EmailAddressTests.refusedAddresses)
        func refuses(_ example: Refused) {
            #expect(throws: example.error) { try EmailAddress(example.input) }
        }

        @Test("an accepted address re-parses to the same identity from each of its renderings",
              arguments: EmailAddressTests.acceptedAddresses.map(\.input) + [
                  // Found by FuzzAddress: A-labels whose display form is over 255 octets.
                  "a@" + Array(repeating: "xn--l8jaaaaaaaaaaaaaaaaaaa", count: 7).joined(separator: ".") + ".jp",
                  "a@n-n--r--ringIng.Xn-Int-rgzg.xn--rgzg.xn--Unsafezg.xn--UnsafeBuf.r.xn--r-rzg.xn--rjpUnsafezg"
                      + ".xn--UnsafeBuf.r.xn--r-xn-n--r--ringIng.Xn-Int-rgzg.xn--rgzg.xn--Unsafezg.xn--UnsafeBuf.r"
                      + ".xn--r-rzg.xn--rjpUnsafezg.xn--UnsafeBuf.r.xn--r-rzg.xn--rjpjp",
              ])
        func renderingsRoundTrip(_ input: String) throws {
            let address = try EmailAddress(input)
            for rendering in [address.entered, address.smtpPath, address.displayAddress] {
                let again = try EmailAddress(rendering)
                #expect(again.identityKey == address.identityKey, "\(rendering.debugDescription)")
                #expect(again.asciiDomain == address.asciiDomain, "\(rendering.debugDescription)")
            }
        }

        @Test("keeps what was entered and normalises the domain", arguments: EmailAddressTests.normalisedAddresses)
        func normalises(_ example: Normalised) throws {
            let address = try EmailAddress(example.input)
            #expect(exactly(address.entered) == exactly(example.entered))
            #expect(exactly(address.description) == exactly(example.entered))
            #expect(exactly(address.localPart) == exactly(example.localPart))
            #expect(address.asciiDomain == example.asciiDomain)
            #expect(exactly(address.unicodeDomain) == exactly(example.unicodeDomain))
            #expect(address.needsSMTPUTF8 == example.needsSMTPUTF8)
            #expect(address.smtpPath == example.localPart + "@" + example.asciiDomain)
            #expect(exactly(address.displayAddress) == exactly(example.localPart + "@" + example.unicodeDomain))
        }

        @Test("the mailbox key is the identity key without the +tag of the local part", arguments: [
            ("Victim+News@Example.COM", "victim@example.com"),
            ("victim@example.com", "victim@example.com"),
            ("victim+1@example.com", "victim@example.com"),
            ("victim+tag+more@example.com", "victim@example.com"),
            ("victim+@example.com", "victim@example.com"),
            ("first.last+tag@example.jp", "first.last@example.jp"),
            ("+x@a.jp", "+x@a.jp"),
            ("++x@a.jp", "++x@a.jp"),
            ("+x+y@a.jp", "+x+y@a.jp"),
            ("山田+メモ@例え.jp", "山田@xn--r8jz45g.jp"),
            ("\u{304B}\u{3099}+x@example.jp", "\u{304C}@example.jp"),
        ])
        func mailboxKey(_ input: String, _ expected: String) throws {
            let address = try EmailAddress(input)
            #expect(exactly(address.mailboxKey) == exactly(expected))
        }

        @Test("two tags of one mailbox share its mailbox key and keep their own identity keys")
        func tagsShareMailboxKey() throws {
            let one = try EmailAddress("victim+1@example.com")
            let two = try EmailAddress("Victim+2@EXAMPLE.com")
            let plain = try EmailAddress("victim@example.com")
            #expect(one.mailboxKey == two.mailboxKey)
            #expect(one.mailboxKey == plain.identityKey)
            #expect(one != two, "each tag is still its own subscriber")
        }

        @Test("equality and hashing follow the identity key")
        func identity() throws {
            let mixedCase = try EmailAddress("Taro@Example.JP")
            let lowerCase = try EmailAddress("taro@example.jp")
            let unicodeDomain = try EmailAddress("taro@例え.jp")
            let aLabel = try EmailAddress("taro@xn--r8jz45g.jp")
            #expect(mixedCase == lowerCase)
            #expect(mixedCase.entered == "Taro@Example.JP")
            #expect(unicodeDomain == aLabel)
            #expect(mixedCase != unicodeDomain)
            #expect(Set([mixedCase, lowerCase, unicodeDomain, aLabel]).count == 2)
        }

        @Test("error messages are short, lower-case sentences without a trailing period")
        func errorMessages() {
            let errors: [EmailAddressError] = [
                .empty, .tooLong, .localPartTooLong, .domainTooLong, .labelTooLong, .missingAt, .multipleAt,
                .missingLocalPart, .missingDomain, .displayNameNotAllowed, .forbiddenCharacter("\r"),
                .unterminatedQuote, .quotedLocalPart, .backslash, .comment,
                .invalidLocalPart, .misplacedDot,
                .invalidDomain, .domainLiteralNotSupported, .domainNeedsDot, .numericTopLevelDomain,
                .invalidDisplayName, .missingClosingAngleBracket, .multipleAddresses, .textAfterAddress,
            ]
            for error in errors {
                let message = error.description
                #expect(message.first?.isLowercase == true, "\(message)")
                #expect(message.last != ".", "\(message)")
            }
            #expect(Set(errors.map(\.description)).count == errors.count, "every case has its own message")
            #expect(EmailAddressError.forbiddenCharacter("\r").description
                == "the address contains a line break (U+000D), which is not allowed")
            #expect(EmailAddressError.forbiddenCharacter("\u{200B}").description
                == "the address contains an invisible formatting character (U+200B), which is not allowed")
        }
    }

    @Suite("Punycode")
    struct PunycodeSpec {
        @Test("encodes the samples", arguments: EmailAddressTests.punycodeSamples)
        func encodes(_ sample: PunycodeSample) {
            #expect(Punycode.encode(sample.unicode) == sample.punycode)
        }

        @Test("decodes the samples", arguments: EmailAddressTests.punycodeSamples)
        func decodes(_ sample: PunycodeSample) throws {
            let decoded = try #require(Punycode.decode(sample.punycode))
            #expect(exactly(decoded) == exactly(sample.unicode))
        }

        @Test("decoding ignores the case of digits: RFC 3492 (I) Russian has a mixed-case annotation")
        func decodesMixedCase() {
            #expect(Punycode.decode("b1abfaaepdrnnbgefbaDotcwatmq2g4l") == "почемужеонинеговорятпорусски")
            #expect(Punycode.encode("почемужеонинеговорятпорусски") == "b1abfaaepdrnnbgefbadotcwatmq2g4l")
        }

        @Test("refuses invalid input", arguments: EmailAddressTests.invalidPunycode)
        func refusesInvalid(_ input: String) {
            #expect(Punycode.decode(input) == nil)
        }

        @Test("converts IDNA labels both ways, canonical A-labels only")
        func idnaLabels() {
            #expect(Punycode.toASCII(label: "例え") == "xn--r8jz45g")
            #expect(Punycode.toASCII(label: "Bücher") == "xn--bcher-kva")
            #expect(Punycode.toASCII(label: "Example") == "example")
            #expect(Punycode.toUnicode(label: "xn--r8jz45g") == "例え")
            #expect(Punycode.toUnicode(label: "XN--BCHER-KVA") == "bücher")
            #expect(Punycode.toUnicode(label: "xn--abc-") == nil, "decodes to pure ASCII")
            #expect(Punycode.toUnicode(label: "xn--ucher-egd") == nil, "not NFC")
            #expect(Punycode.toUnicode(label: "r8jz45g") == nil, "no ACE prefix")
        }
    }

    @Suite("Mailboxes")
    struct Mailboxes {
        @Test("accepts, with the expected display name and address", arguments: EmailAddressTests.acceptedMailboxes)
        func accepts(_ example: MailboxAccepted) throws {
            let mailbox = try Mailbox(example.input)
            #expect(mailbox.displayName.map(exactly) == example.displayName.map(exactly))
            #expect(exactly(mailbox.address.identityKey) == exactly(example.identityKey))
        }

        @Test("refuses, with the expected reason", arguments: EmailAddressTests.refusedMailboxes)
        func refuses(_ example: Refused) {
            #expect(throws: example.error) { try Mailbox(example.input) }
        }

        @Test("the address inside angle brackets is entered without the brackets")
        func addressEntered() throws {
            let mailbox = try Mailbox("山田 太郎 <Taro@例え.jp>")
            #expect(mailbox.address.entered == "Taro@例え.jp")
            #expect(mailbox.address.smtpPath == "Taro@xn--r8jz45g.jp")
            let sameMailbox = try Mailbox("山田 太郎 <taro@XN--R8JZ45G.jp>")
            #expect(mailbox == sameMailbox, "same name, same identity key")
        }
    }
}
