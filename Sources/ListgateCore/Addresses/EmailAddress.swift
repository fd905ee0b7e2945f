// EmailAddress: the one parser every address goes through (web forms, CLI, CSV import).
// It is a security boundary: an accepted string is exactly one mailbox. Anything that could
// smuggle a header or a second address (line breaks, controls, list separators, angle
// brackets, a second @) is refused with a reason, never silently cleaned up.
//
// It is also the identity boundary: one mailbox must have one spelling, or suppressions,
// rate limits and erasure keyed on it can be walked around. So only the dot-atom form of a
// local part is accepted. RFC 5321 also allows `"victim"@example.com` and
// `"v\ictim"@example.com`, which reach the same inbox as victim@example.com yet would be
// different identity keys; quoted strings, backslash escapes and (comments) are refused,
// each with a message that says what to type instead.
//
// Parsing works on Unicode scalars, not Characters: a combining mark typed after "@" or a
// quote would otherwise hide that "@" or quote inside a grapheme cluster, and "\r\n" is a
// single Character.
//
// What a Japanese keyboard types with the IME on (`ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ`, a
// trailing ideographic space) is folded to its ASCII form first, and that form is what
// is checked, stored and mailed: every rule above then applies to what will really be
// sent, and one mailbox keeps one spelling.

import Foundation

/// A single mailbox address, parsed and normalised. Immutable, Sendable, Hashable
/// (hash/equality on identityKey).
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    /// As entered, after folding full-width ASCII (U+FF01...U+FF5E) to ASCII and trimming
    /// surrounding spaces, tabs and ideographic spaces.
    public let entered: String
    /// As entered, case preserved: always a dot-atom (never quoted).
    public let localPart: String
    /// Lowercased, IDN labels converted to A-labels ("xn--...").
    public let asciiDomain: String
    /// For display: U-labels (NFC, lowercased), ASCII labels lowercased.
    public let unicodeDomain: String

    public init(_ text: String) throws(EmailAddressError) {
        let scalars = AddressSyntax.trimmingBlanks(
            AddressSyntax.foldingFullWidthASCII(text.unicodeScalars), alsoIdeographicSpace: true)
        guard !scalars.isEmpty else { throw .empty }
        // Injection characters first: whatever else is wrong, a line break must be named.
        try AddressSyntax.rejectUnsafeScalars(in: scalars, allowingUnicodeSpaces: false)

        let (local, domain) = try AddressSyntax.splitAtSign(scalars)
        let localPart = try LocalPartRules.validated(local)
        let (asciiDomain, unicodeDomain) = try DomainRules.validated(domain)
        guard localPart.utf8.count + 1 + asciiDomain.utf8.count <= AddressLimits.path,
              scalars.count <= AddressLimits.enteredCharacters else {
            throw .tooLong
        }

        self.entered = AddressSyntax.string(scalars)
        self.localPart = localPart
        self.asciiDomain = asciiDomain
        self.unicodeDomain = unicodeDomain
    }

    /// Uniqueness and checksum key: local part lowercased (and NFC, so that a decomposed
    /// "が" from a macOS paste matches a composed one), "@", A-label domain.
    public var identityKey: String {
        localPart.lowercased().precomposedStringWithCanonicalMapping + "@" + asciiDomain
    }

    /// The key of the mailbox behind the address: `identityKey` with any `+tag` taken off
    /// the local part (`Victim+News@Example.COM` → `victim@example.com`), because
    /// `victim+1@…` and `victim+2@…` reach one inbox at the providers that deliver
    /// subaddresses. Only the first "+" splits, and a local part that starts with "+" is
    /// kept whole (`+x@a.jp` stays `+x@a.jp`): there is no mailbox name before it.
    ///
    /// Not a uniqueness key (each tag is still its own subscriber) but the key that what
    /// protects a person is checked against as well: the per-address cooldown and daily
    /// limit count every tag of one mailbox together, and a suppression that stops mail
    /// (a "not me" block, an admin suppression, a forget) holds for every tag of it.
    public var mailboxKey: String { Self.mailboxKey(ofIdentityKey: identityKey) }

    /// The mailbox key of a stored identity key (whose local part is lower-cased already),
    /// for rows read back from the database.
    public static func mailboxKey(ofIdentityKey key: String) -> String {
        guard let at = key.lastIndex(of: "@") else { return key }
        let local = key[..<at]
        guard let plus = local.firstIndex(of: "+"), plus != local.startIndex else { return key }
        return String(local[..<plus]) + String(key[at...])
    }

    /// True iff the local part has non-ASCII characters (RFC 6531); IDN domains never need
    /// it because they travel as A-labels.
    public var needsSMTPUTF8: Bool {
        localPart.unicodeScalars.contains { !$0.isASCII }
    }

    /// What goes in MAIL FROM / RCPT TO and the To: header.
    public var smtpPath: String { localPart + "@" + asciiDomain }

    /// For showing to people: the local part and the Unicode domain ("user@例え.jp").
    public var displayAddress: String { localPart + "@" + unicodeDomain }

    public var description: String { entered }

    public static func == (lhs: EmailAddress, rhs: EmailAddress) -> Bool {
        lhs.identityKey == rhs.identityKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(identityKey)
    }
}

/// Why a string was refused. `description` is a short English message for the user.
public enum EmailAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    /// The whole address (smtpPath form) is over 254 octets, or over 254 characters as typed.
    case tooLong
    /// The local part is over 64 octets (UTF-8).
    case localPartTooLong
    /// The domain is over 255 characters as entered, or over 253 octets in A-label form.
    case domainTooLong
    /// A domain label is over 63 octets after A-label conversion.
    case labelTooLong
    case missingAt
    case multipleAt
    case missingLocalPart
    case missingDomain
    /// "Name <a@b>" or "<a@b>" where only a bare address is accepted.
    case displayNameNotAllowed
    /// A line break, control, invisible formatting character, or a separator that could
    /// start a second address (',' ';' '<' '>' whitespace).
    case forbiddenCharacter(Character)
    /// A quote in a Mailbox's display name that is never closed.
    case unterminatedQuote
    /// `"victim"@example.com`: a quoted local part (one mailbox would have two spellings).
    case quotedLocalPart
    /// `v\ictim@example.com`: a backslash, anywhere.
    case backslash
    /// `victim(x)@example.com`: a comment in parentheses, anywhere.
    case comment
    case invalidLocalPart
    /// A dot at the start or end of the local part, or two in a row.
    case misplacedDot
    case invalidDomain
    /// "a@[192.0.2.1]".
    case domainLiteralNotSupported
    /// "a@localhost": a single-label domain.
    case domainNeedsDot
    /// "a@example.123": the top-level domain is all digits.
    case numericTopLevelDomain
    // Mailbox ("Name <address>") only:
    case invalidDisplayName
    case missingClosingAngleBracket
    case multipleAddresses
    case textAfterAddress

    public var description: String {
        switch self {
        case .empty: "the address is empty"
        case .tooLong: "the address is longer than 254 octets"
        case .localPartTooLong: "the part before the @ is longer than 64 octets"
        case .domainTooLong: "the domain is longer than 253 octets"
        case .labelTooLong: "a part of the domain between dots is longer than 63 octets"
        case .missingAt: "the address has no @"
        case .multipleAt: "the address has more than one @"
        case .missingLocalPart: "there is nothing before the @"
        case .missingDomain: "there is no domain after the @"
        case .displayNameNotAllowed: "enter the address on its own, without a name or angle brackets"
        case .forbiddenCharacter(let character):
            "the address contains \(Self.name(of: character)), which is not allowed"
        case .unterminatedQuote: "a double quote is not closed"
        case .quotedLocalPart: "quoted local parts are not accepted: type the address without double quotes"
        case .backslash: "a backslash is not accepted in an address: type the address without it"
        case .comment: "comments in parentheses are not accepted in an address: type the address without ( )"
        case .invalidLocalPart: "the part before the @ contains characters that are not allowed"
        case .misplacedDot: "the part before the @ cannot start or end with a dot or have two dots in a row"
        case .invalidDomain: "the domain is not a valid host name"
        case .domainLiteralNotSupported: "addresses with an IP address in brackets are not supported"
        case .domainNeedsDot: "the domain needs at least one dot, as in example.jp"
        case .numericTopLevelDomain: "the last part of the domain cannot be all digits"
        case .invalidDisplayName:
            "the name contains @ , ; : < > or \\ outside double quotes; put the name in double quotes"
        case .missingClosingAngleBracket: "the address is missing its closing >"
        case .multipleAddresses: "only one address is allowed"
        case .textAfterAddress: "nothing may follow the closing >"
        }
    }

    /// Names a refused character so that invisible ones are still identifiable.
    private static func name(of character: Character) -> String {
        guard let scalar = character.unicodeScalars.first else { return "an empty character" }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        switch scalar {
        case "\r", "\n", "\u{85}", "\u{2028}", "\u{2029}": return "a line break (\(code))"
        case "\t": return "a tab"
        case " ": return "a space"
        case ",": return "a comma"
        case ";": return "a semicolon"
        case "<", ">": return "\"\(scalar)\""
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control: return "a control character (\(code))"
        case .format: return "an invisible formatting character (\(code))"
        case .spaceSeparator: return "a non-standard space (\(code))"
        default: return "the character \(code)"
        }
    }
}

// MARK: - Limits

/// RFC 5321 §4.5.3.1 size limits, in octets, and two bounds on what is typed.
enum AddressLimits {
    static let localPart = 64
    static let label = 63
    /// In Unicode scalars, not octets: a U-label domain is never longer in scalars than
    /// its A-label form, so every address accepted as an A-label is also accepted as it
    /// is displayed (3-octet CJK scalars would put it over 255 octets).
    static let domainAsEntered = 255
    static let asciiDomain = 253
    /// 256 for the reverse-path including "<" and ">" (RFC 5321 errata 1690).
    static let path = 254
    /// The whole address as typed, in Unicode scalars: what the database's
    /// `length(email) <= 254` counts. Only a typed domain that normalisation shortens
    /// (decomposed or half-width voiced kana) can reach it within the other limits.
    static let enteredCharacters = 254
}

// MARK: - Scanning shared with Mailbox

enum AddressSyntax {
    typealias Scalars = ArraySlice<Unicode.Scalar>

    /// Trims ASCII spaces and tabs, and with `alsoIdeographicSpace` the ideographic space
    /// (U+3000) that an IME types for a space. Line breaks are deliberately not trimmed: a
    /// trailing "\r\n" is refused, because a header injection must be refused, not cleaned.
    static func trimmingBlanks<S: Collection<Unicode.Scalar>>(_ scalars: S, alsoIdeographicSpace: Bool = false) -> Scalars {
        let all = ArraySlice(scalars)
        let isBlank: (Unicode.Scalar) -> Bool = {
            $0 == " " || $0 == "\t" || (alsoIdeographicSpace && $0 == "\u{3000}")
        }
        guard let first = all.firstIndex(where: { !isBlank($0) }),
              let last = all.lastIndex(where: { !isBlank($0) }) else { return [] }
        return all[first...last]
    }

    /// The Fullwidth ASCII variants (U+FF01...U+FF5E) as the ASCII characters they are
    /// (what NFKC does to that block, and only that block): `ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ`
    /// becomes `taro@example.jp`. Other non-ASCII letters are left alone, so an
    /// internationalised local part or domain keeps its own spelling. The result is only
    /// printable ASCII where there was full-width text, so it is checked like anything typed.
    static func foldingFullWidthASCII<S: Collection<Unicode.Scalar>>(_ scalars: S) -> [Unicode.Scalar] {
        scalars.map { scalar in
            guard (0xFF01...0xFF5E).contains(scalar.value) else { return scalar }
            return Unicode.Scalar(scalar.value - 0xFEE0)!
        }
    }

    static func string(_ scalars: Scalars) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Refuses characters that are never acceptable, quoted or not: C0/C1 controls (CR, LF,
    /// NUL, tab...), invisible formatting characters (bidi overrides, zero-width space),
    /// line/paragraph separators, noncharacters and U+FFFD (a sign of mis-decoded input).
    /// Unicode spaces other than U+0020 are refused too unless `allowingUnicodeSpaces`
    /// (a display name may contain the ideographic space U+3000).
    static func rejectUnsafeScalars(in scalars: Scalars, allowingUnicodeSpaces: Bool) throws(EmailAddressError) {
        for scalar in scalars where isUnsafe(scalar, allowingUnicodeSpaces: allowingUnicodeSpaces) {
            throw .forbiddenCharacter(Character(scalar))
        }
    }

    private static func isUnsafe(_ scalar: Unicode.Scalar, allowingUnicodeSpaces: Bool) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate:
            return true
        case .spaceSeparator:
            return scalar != " " && !allowingUnicodeSpaces
        default:
            return scalar.properties.isNoncharacterCodePoint || scalar == "\u{FFFD}"
        }
    }

    /// Index of the quote closing the quoted string that opens at `start`, honouring
    /// backslash escapes; nil if it is never closed.
    static func closingQuote(in scalars: Scalars, openingAt start: Int) -> Int? {
        var index = start + 1
        while index < scalars.endIndex {
            switch scalars[index] {
            case "\\": index += 2
            case "\"": return index
            default: index += 1
            }
        }
        return nil
    }

    /// Splits at the single "@", after refusing anything that could turn the string into a
    /// list or a "Name <address>" form, or spell a mailbox a second way.
    static func splitAtSign(_ scalars: Scalars) throws(EmailAddressError) -> (local: Scalars, domain: Scalars) {
        if scalars.contains("<") && scalars.contains(">") { throw .displayNameNotAllowed }
        // Quotes, backslashes and comments are named before list separators: in
        // `"john smith"@example.jp` the quotes are the thing to fix, not the space. They
        // are refused wherever they are, so no reading of the string can find a second
        // "@" or local part inside them.
        if scalars.contains("\"") { throw .quotedLocalPart }
        if scalars.contains("\\") { throw .backslash }
        if scalars.contains("(") || scalars.contains(")") { throw .comment }
        if let separator = scalars.first(where: isListSeparator) {
            throw .forbiddenCharacter(Character(separator))
        }
        let atSigns = scalars.indices.filter { scalars[$0] == "@" }
        guard let at = atSigns.first else { throw .missingAt }
        guard atSigns.count == 1 else { throw .multipleAt }
        return (scalars[..<at], scalars[(at + 1)...])
    }

    /// Characters that separate addresses in a header or a pasted list. Other whitespace
    /// has already been refused by `rejectUnsafeScalars`.
    private static func isListSeparator(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "," || scalar == ";" || scalar == "<" || scalar == ">" || scalar == " "
    }
}

// MARK: - Local part

/// RFC 5321 dot-atom, extended with UTF-8 by RFC 6531. Never the quoted-string form:
/// splitAtSign has refused quotes and backslashes already (see the file comment).
private enum LocalPartRules {
    static func validated(_ local: AddressSyntax.Scalars) throws(EmailAddressError) -> String {
        guard !local.isEmpty else { throw .missingLocalPart }
        try validateDotAtom(local)
        let text = AddressSyntax.string(local)
        guard text.utf8.count <= AddressLimits.localPart else { throw .localPartTooLong }
        return text
    }

    private static func validateDotAtom(_ local: AddressSyntax.Scalars) throws(EmailAddressError) {
        // Non-ASCII scalars are RFC 6531 UTF-8; full-width ASCII has been folded already.
        for scalar in local where scalar.isASCII {
            guard scalar == "." || isAtext(scalar) else { throw .invalidLocalPart }
        }
        let hasDoubleDot = zip(local, local.dropFirst()).contains { $0 == "." && $1 == "." }
        if local.first == "." || local.last == "." || hasDoubleDot { throw .misplacedDot }
    }

    /// RFC 5322 atext: ALPHA / DIGIT / the listed specials.
    private static func isAtext(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        default: "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar)
        }
    }
}

// MARK: - Domain

/// Hostname rules (LDH labels, at least two, TLD not numeric) with IDNA label conversion.
private enum DomainRules {
    static func validated(_ domain: AddressSyntax.Scalars) throws(EmailAddressError) -> (ascii: String, unicode: String) {
        guard !domain.isEmpty else { throw .missingDomain }
        guard domain.first != "[" else { throw .domainLiteralNotSupported }
        guard domain.count <= AddressLimits.domainAsEntered else {
            throw .domainTooLong
        }
        // Empty labels come from a leading, trailing (including "example.jp.") or double dot.
        let labels = foldingWidth(domain).split(omittingEmptySubsequences: false, whereSeparator: isLabelSeparator)
        guard !labels.contains(where: \.isEmpty) else { throw .invalidDomain }
        guard labels.count >= 2 else { throw .domainNeedsDot }

        var asciiLabels: [String] = []
        var unicodeLabels: [String] = []
        for label in labels {
            let (ascii, unicode) = try converted(AddressSyntax.string(label))
            asciiLabels.append(ascii)
            unicodeLabels.append(unicode)
        }
        if let tld = asciiLabels.last, tld.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            throw .numericTopLevelDomain
        }
        let ascii = asciiLabels.joined(separator: ".")
        guard ascii.utf8.count <= AddressLimits.asciiDomain else { throw .domainTooLong }
        return (ascii, unicodeLabels.joined(separator: "."))
    }

    /// Maps Halfwidth and Fullwidth Forms (U+FF00...U+FFEF) to their NFKC equivalents, as
    /// UTS #46 does: "ＸＹＺ" -> "XYZ", "．" -> ".", half-width katakana -> katakana. The
    /// domain names the same host either way, so this is a typing convenience, not a
    /// second spelling (identityKey uses the mapped form).
    private static func foldingWidth(_ domain: AddressSyntax.Scalars) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        for scalar in domain {
            if (0xFF00...0xFFEF).contains(scalar.value) {
                result.append(contentsOf: String(Character(scalar)).precomposedStringWithCompatibilityMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return result
    }

    /// The IDNA label separators (RFC 3490 §3.1): full stop, ideographic full stop,
    /// full-width full stop, half-width ideographic full stop.
    private static func isLabelSeparator(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "." || scalar == "\u{3002}" || scalar == "\u{FF0E}" || scalar == "\u{FF61}"
    }

    /// One label -> (A-label form, display form).
    private static func converted(_ label: String) throws(EmailAddressError) -> (String, String) {
        if label.unicodeScalars.allSatisfy(\.isASCII) { return try convertedASCII(label) }
        let normalised = Punycode.normalisedLabel(label)
        // e.g. KELVIN SIGN normalises to plain "k".
        if normalised.unicodeScalars.allSatisfy(\.isASCII) { return try convertedASCII(normalised) }
        guard isValidULabel(normalised), let aLabel = Punycode.toASCII(label: normalised) else {
            throw .invalidDomain
        }
        guard aLabel.utf8.count <= AddressLimits.label else { throw .labelTooLong }
        return (aLabel, normalised)
    }

    private static func convertedASCII(_ label: String) throws(EmailAddressError) -> (String, String) {
        let lower = label.lowercased()
        guard lower.utf8.count <= AddressLimits.label else { throw .labelTooLong }
        guard isLDH(lower) else { throw .invalidDomain }
        guard lower.hasPrefix(Punycode.acePrefix) else { return (lower, lower) }
        // An A-label typed by hand must be a real, canonical one, or two spellings of one
        // domain (or an undecodable one) would get in. Canonical includes being what typing
        // its U-label gives: a half-width ｶ decodes fine but is typed as カ (width folding).
        guard let unicode = Punycode.toUnicode(label: lower), isValidULabel(unicode),
              Punycode.toASCII(label: String(String.UnicodeScalarView(foldingWidth(ArraySlice(unicode.unicodeScalars))))) == lower
        else {
            throw .invalidDomain
        }
        return (lower, unicode)
    }

    /// Letters, digits, hyphen; no hyphen at either end.
    private static func isLDH(_ label: String) -> Bool {
        let scalars = label.unicodeScalars
        guard scalars.first != "-", scalars.last != "-" else { return false }
        return scalars.allSatisfy(isLDHScalar)
    }

    /// Lowercase letters, digits and hyphen: labels are lowercased before this is asked.
    private static func isLDHScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "0"..."9", "-": true
        default: false
        }
    }

    /// A simplified IDNA2008 check (RFC 5891 §4.2.3): lowercase LDH or non-ASCII letters,
    /// marks and digits (plus the katakana middle dot), not starting with a mark or hyphen,
    /// not ending with a hyphen, no "--" in positions 3-4. Refuses symbols, emoji and
    /// punctuation that could imitate "/", "?" or "." in a domain.
    private static func isValidULabel(_ label: String) -> Bool {
        let scalars = Array(label.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last,
              first != "-", last != "-", !isMark(first) else { return false }
        if scalars.count >= 4 && scalars[2] == "-" && scalars[3] == "-" { return false }
        return scalars.allSatisfy { scalar in
            if scalar.isASCII { return isLDHScalar(scalar) }
            if scalar == "\u{30FB}" { return true }
            switch scalar.properties.generalCategory {
            case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
                return true
            default:
                return false
            }
        }
    }

    private static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }
}
