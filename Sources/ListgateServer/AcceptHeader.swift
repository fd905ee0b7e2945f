// `Accept`, read as media ranges with q-values (RFC 9110 §12.5.1) rather than searched for
// a substring: `application/json;q=0` refuses JSON, and a browser's `*/*` is not a request
// for it.
import Foundation

/// Every answer listgate gives exists as an HTML page and as JSON; this decides which.
///
/// Each of the two gets the quality of the most specific range that matches it
/// (`application/json` over `application/*` over `*/*`). JSON is chosen when its quality
/// is above zero and it wins on, in turn: quality, the specificity of its range, and its
/// range's place in the header (earlier wins) — the order Express's `negotiator` uses.
/// Anything else, including no header at all, gets HTML. So `*/*` → HTML,
/// `application/*` → JSON, `text/html, application/json;q=0.9` → HTML,
/// `application/json, text/plain, */*` (axios) → JSON.
struct AcceptHeader: Sendable, Equatable {
    struct MediaRange: Sendable, Equatable {
        var type: String
        var subtype: String
        var quality: Double
    }

    /// In the order the client sent them; malformed ranges are left out.
    let ranges: [MediaRange]

    /// From every `Accept` field of a request (each may hold a comma-separated list).
    init(_ fields: [String]) {
        ranges = fields.flatMap { $0.split(separator: ",") }.compactMap(Self.range)
    }

    init(_ field: String?) {
        self.init(field.map { [$0] } ?? [])
    }

    var prefersJSON: Bool {
        guard let json = match("application", "json"), json.quality > 0 else { return false }
        guard let html = match("text", "html"), html.quality > 0 else { return true }
        if json.quality != html.quality { return json.quality > html.quality }
        if json.specificity != html.specificity { return json.specificity > html.specificity }
        return json.position < html.position
    }

    /// The range that decides for `type/subtype`: the most specific one that matches.
    func match(_ type: String, _ subtype: String) -> (quality: Double, specificity: Int, position: Int)? {
        var best: (quality: Double, specificity: Int, position: Int)?
        for (position, range) in ranges.enumerated() {
            let specificity: Int
            switch (range.type, range.subtype) {
            case (type, subtype): specificity = 2
            case (type, "*"): specificity = 1
            case ("*", "*"): specificity = 0
            default: continue
            }
            if best == nil || specificity > best!.specificity { best = (range.quality, specificity, position) }
        }
        return best
    }

    /// `type/subtype` with an optional `q`; other parameters do not change the choice.
    private static func range(_ text: Substring) -> MediaRange? {
        let parts = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let media = parts.first else { return nil }
        let names = media.split(separator: "/", omittingEmptySubsequences: false)
        guard names.count == 2, !names[0].isEmpty, !names[1].isEmpty, !(names[0] == "*" && names[1] != "*") else { return nil }
        var quality = 1.0
        for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
            guard let value = Double(parameter.dropFirst(2)), (0...1).contains(value) else { return nil }
            quality = value
        }
        return MediaRange(type: String(names[0]), subtype: String(names[1]), quality: quality)
    }
}
