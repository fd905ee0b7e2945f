// RFC 8058 one-click unsubscribe: a mailbox provider POSTs `List-Unsubscribe=One-Click`
// to the link, as an URL-encoded body or as a part of a `multipart/form-data` body (both
// are allowed). Anything else posted to the link is a person pressing the page's button.
import Foundation

enum OneClickUnsubscribe {
    static func isRequested(body: [UInt8], contentType: String?) -> Bool {
        if let contentType, MultipartFormData.boundary(in: contentType) != nil {
            let form = MultipartFormData(body: body, contentType: contentType)
            return form?.fields.contains { $0.name == "List-Unsubscribe" && $0.text?.trimmingCharacters(in: .whitespaces) == "One-Click" }
                ?? false
        }
        return String(decoding: body, as: UTF8.self).split(separator: "&")
            .contains { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "List-Unsubscribe=One-Click" }
    }
}

/// The fields of a `multipart/form-data` body (RFC 7578 on RFC 2046's multipart syntax).
/// Strict about structure (CRLF line ends, a closing delimiter, a named `form-data`
/// disposition on every part) and bounded: the body is whatever the route already read
/// under its size limit, and at most `maximumParts` parts are taken.
struct MultipartFormData: Sendable {
    struct Field: Sendable, Equatable {
        var name: String
        var value: [UInt8]
        var text: String? { String(validating: value, as: UTF8.self) }
    }

    static let maximumParts = 32
    let fields: [Field]

    /// nil when the type is not multipart/form-data with a boundary, or the body is not
    /// well formed.
    init?(body: [UInt8], contentType: String) {
        guard let boundary = Self.boundary(in: contentType) else { return nil }
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [13, 10]
        // The first delimiter opens the body or follows a preamble's last line.
        var position: Int
        if body.starts(with: delimiter) {
            position = delimiter.count
        } else if let found = Self.find(crlf + delimiter, in: body, from: 0) {
            position = found + 2 + delimiter.count
        } else {
            return nil
        }
        var fields: [Field] = []
        while true {
            if body[position...].starts(with: [45, 45]) { break }  // "--": the closing delimiter
            while position < body.count, body[position] == 32 || body[position] == 9 { position += 1 }  // transport padding
            guard body[position...].starts(with: crlf) else { return nil }
            position += 2
            guard fields.count < Self.maximumParts,
                  let end = Self.find(crlf + delimiter, in: body, from: position),
                  let field = Self.field(body[position..<end])
            else { return nil }
            fields.append(field)
            position = end + 2 + delimiter.count
        }
        self.fields = fields
    }

    /// The `boundary` parameter of a `multipart/form-data` type (1–70 characters).
    static func boundary(in contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return (1...70).contains(value.count) ? value : nil
        }
        return nil
    }

    /// A part: header lines, an empty line, the value.
    private static func field(_ part: ArraySlice<UInt8>) -> Field? {
        guard let split = find([13, 10, 13, 10], in: part, from: part.startIndex) else { return nil }
        let headers = String(decoding: part[part.startIndex..<split], as: UTF8.self)
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition",
                  let name = dispositionName(String(pair[1]))
            else { continue }
            return Field(name: name, value: Array(part[(split + 4)...]))
        }
        return nil
    }

    /// The `name` of `form-data; name="…"` (quoted, with `\` escapes, or a bare token).
    private static func dispositionName(_ value: String) -> String? {
        let parameters = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parameters.first?.lowercased() == "form-data" else { return nil }
        for parameter in parameters.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "name" else { continue }
            guard pair[1].hasPrefix("\"") else { return pair[1] }
            var name = "", escaped = false
            for character in pair[1].dropFirst() {
                if escaped { name.append(character); escaped = false }
                else if character == "\\" { escaped = true }
                else if character == "\"" { return name }
                else { name.append(character) }
            }
            return nil  // unterminated quote
        }
        return nil
    }

    private static func find<Bytes: RandomAccessCollection<UInt8>>(_ needle: [UInt8], in haystack: Bytes, from start: Int) -> Int?
    where Bytes.Index == Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
