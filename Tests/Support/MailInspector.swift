// Reads a message the way a strict mail client would: Python's `email` package with
// policy=strict parses it and reports headers, addresses and decoded parts. Tests use
// it so that "the message is well-formed" is judged by an independent implementation.
import Foundation

public struct InspectedMail: Sendable {
    public let headers: [(name: String, value: String)]
    public let to: [String]
    public let from: [String]
    public let subject: String?
    public let contentType: String
    public let defects: [String]
    public let parts: [Part]
    public let maxLineLength: Int
    public let bareLineFeeds: Int

    public struct Part: Sendable {
        public let contentType: String
        public let charset: String?
        public let transferEncoding: String
        public let text: String
    }

    public func headers(named name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    public var text: String? { parts.first { $0.contentType == "text/plain" }?.text }
    public var html: String? { parts.first { $0.contentType == "text/html" }?.text }
}

public enum MailInspector {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func inspect(_ raw: [UInt8]) throws -> InspectedMail {
        let outcome = try ChildProcess.python("inspect_mail", input: Data(raw))
        guard outcome.status == 0 else {
            throw Failure(description: "Python's strict email parser refused the message: \(String(decoding: outcome.stderr, as: UTF8.self))")
        }
        let data = outcome.stdout
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure(description: "inspect_mail.py printed no JSON object")
        }
        let parts = (json["parts"] as? [[String: Any]] ?? []).map {
            InspectedMail.Part(
                contentType: $0["content_type"] as? String ?? "", charset: $0["charset"] as? String,
                transferEncoding: $0["transfer_encoding"] as? String ?? "", text: $0["text"] as? String ?? "")
        }
        return InspectedMail(
            headers: (json["headers"] as? [[String]] ?? []).map { (name: $0[0], value: $0[1]) },
            to: json["to"] as? [String] ?? [],
            from: json["from"] as? [String] ?? [],
            subject: json["subject"] as? String,
            contentType: json["content_type"] as? String ?? "",
            defects: json["defects"] as? [String] ?? [],
            parts: parts,
            maxLineLength: json["max_line_length"] as? Int ?? 0,
            bareLineFeeds: json["bare_lf"] as? Int ?? 0)
    }
}
