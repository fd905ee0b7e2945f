// Punycode (RFC 3492) and the two IDNA label conversions EmailAddress needs:
// U-label -> A-label ("例え" -> "xn--r8jz45g") and back. Pure Swift on Unicode
// scalars, so it behaves the same on Linux and macOS; only Foundation's NFC is used.

import Foundation

/// Punycode per RFC 3492 plus IDNA label helpers.
public enum Punycode {
    // Bootstring parameters for Punycode (RFC 3492 §5).
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700
    private static let initialBias = 72
    private static let initialN = 0x80
    private static let delimiter: Unicode.Scalar = "-"
    /// Arithmetic is capped here (RFC 3492 §6.4) so that hostile input fails instead of
    /// overflowing; no valid code point sequence comes anywhere near it.
    private static let maxInt = Int(Int32.max)

    /// The ACE prefix that marks an A-label.
    public static let acePrefix = "xn--"

    // MARK: - RFC 3492

    /// Encodes a string: `"bücher"` -> `"bcher-kva"`. Basic (ASCII) code points are copied
    /// unchanged, case included. Returns nil only if the input is absurdly long.
    public static func encode(_ unicode: String) -> String? {
        let input = unicode.unicodeScalars.map { Int($0.value) }
        var output = String.UnicodeScalarView()
        for code in input where code < initialN {
            output.append(scalar(code))
        }
        let basicCount = output.count
        if basicCount > 0 { output.append(delimiter) }

        var n = initialN
        var delta = 0
        var bias = initialBias
        var handled = basicCount
        while handled < input.count {
            // The smallest code point not yet handled; one exists because handled < count.
            let next = input.filter { $0 >= n }.min() ?? n
            guard next - n <= (maxInt - delta) / (handled + 1) else { return nil }
            delta += (next - n) * (handled + 1)
            n = next
            for code in input {
                if code < n {
                    delta += 1
                    guard delta <= maxInt else { return nil }
                }
                if code == n {
                    appendVariableLengthInteger(delta, bias: bias, to: &output)
                    bias = adapt(delta: delta, count: handled + 1, first: handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    /// Decodes a Punycode string: `"bcher-kva"` -> `"bücher"`. Returns nil on any invalid
    /// input: non-ASCII characters, bad digits, overflow, truncated integers, or a result
    /// that would contain a surrogate, an out-of-range value or an encoded ASCII character.
    public static func decode(_ ascii: String) -> String? {
        let input = Array(ascii.unicodeScalars)
        guard input.allSatisfy(\.isASCII) else { return nil }

        // Everything before the last delimiter is copied as is (RFC 3492 §6.2).
        let lastDelimiter = input.lastIndex(of: delimiter) ?? 0
        var output = Array(input[..<lastDelimiter])
        var position = lastDelimiter > 0 ? lastDelimiter + 1 : 0

        var n = initialN
        var i = 0
        var bias = initialBias
        while position < input.count {
            let oldI = i
            var weight = 1
            var k = base
            while true {
                guard position < input.count, let digit = digitValue(input[position]) else { return nil }
                position += 1
                guard digit <= (maxInt - i) / weight else { return nil }
                i += digit * weight
                let t = threshold(k, bias: bias)
                if digit < t { break }
                guard weight <= maxInt / (base - t) else { return nil }
                weight *= base - t
                k += base
            }
            let length = output.count + 1
            bias = adapt(delta: i - oldI, count: length, first: oldI == 0)
            guard i / length <= maxInt - n else { return nil }
            n += i / length
            i %= length
            // n starts at 0x80 and only grows, so no ASCII can be smuggled in encoded form;
            // surrogates and values past U+10FFFF are refused here.
            guard let decoded = Unicode.Scalar(UInt32(n)) else { return nil }
            output.insert(decoded, at: i)
            i += 1
        }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: output)
        return String(result)
    }

    // MARK: - IDNA label helpers

    /// The normal form labels are compared and encoded in: lowercase, then NFC.
    static func normalisedLabel(_ label: String) -> String {
        label.lowercased().precomposedStringWithCanonicalMapping
    }

    /// U-label -> A-label: `"例え"` -> `"xn--r8jz45g"`. The label is lowercased and
    /// NFC-normalised first; an all-ASCII label comes back lowercased, without a prefix.
    /// No hostname rules are checked here (EmailAddress does that).
    public static func toASCII(label: String) -> String? {
        let normalised = normalisedLabel(label)
        if normalised.unicodeScalars.allSatisfy(\.isASCII) { return normalised }
        return encode(normalised).map { acePrefix + $0 }
    }

    /// A-label -> U-label: `"xn--r8jz45g"` -> `"例え"`. Returns nil unless the label is a
    /// canonical A-label: the prefix, valid Punycode, at least one non-ASCII character,
    /// already lowercase and NFC, and re-encoding gives back exactly the same label
    /// (RFC 5891 §5.4). Anything else could make two spellings of one domain.
    public static func toUnicode(label: String) -> String? {
        let lowered = label.lowercased()
        guard lowered.hasPrefix(acePrefix) else { return nil }
        let body = String(lowered.dropFirst(acePrefix.count))
        guard let decoded = decode(body),
              decoded.unicodeScalars.contains(where: { !$0.isASCII }) else { return nil }
        // Compare scalars: String's == ignores normalisation differences, which is what we test.
        guard normalisedLabel(decoded).unicodeScalars.elementsEqual(decoded.unicodeScalars),
              encode(decoded) == body else { return nil }
        return decoded
    }

    // MARK: - Bootstring internals

    private static func threshold(_ k: Int, bias: Int) -> Int {
        if k <= bias { return tMin }
        if k >= bias + tMax { return tMax }
        return k - bias
    }

    /// Writes `value` as a generalised variable-length integer (RFC 3492 §3.3).
    private static func appendVariableLengthInteger(_ value: Int, bias: Int, to output: inout String.UnicodeScalarView) {
        var q = value
        var k = base
        while true {
            let t = threshold(k, bias: bias)
            if q < t { break }
            output.append(digitScalar(t + (q - t) % (base - t)))
            q = (q - t) / (base - t)
            k += base
        }
        output.append(digitScalar(q))
    }

    /// Bias adaptation (RFC 3492 §6.1).
    private static func adapt(delta: Int, count: Int, first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / count
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    /// 0...25 -> "a"..."z", 26...35 -> "0"..."9". Lowercase, as IDNA wants.
    private static func digitScalar(_ digit: Int) -> Unicode.Scalar {
        digit < 26 ? scalar(0x61 + digit) : scalar(0x30 + digit - 26)
    }

    /// Inverse of `digitScalar`, accepting either case (case only carries annotations).
    private static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        switch scalar.value {
        case 0x30...0x39: Int(scalar.value) - 0x30 + 26
        case 0x41...0x5A: Int(scalar.value) - 0x41
        case 0x61...0x7A: Int(scalar.value) - 0x61
        default: nil
        }
    }

    /// Only called with values known to be valid scalars (ASCII or input code points).
    private static func scalar(_ value: Int) -> Unicode.Scalar {
        Unicode.Scalar(UInt32(value)) ?? "\u{FFFD}"
    }
}
