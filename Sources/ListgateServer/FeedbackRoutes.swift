// `POST /api/v1/lists/{slug}/feedback` (scope `feedback:write`): a sender reports what
// happened to the mail it sent, and the list changes accordingly (Feedback.swift). The
// route reads the body, turns each event into a `FeedbackEvent` or a problem at its index,
// hands the good ones to `Feedback`, and answers the counts. Two shapes:
//   - `application/json`: `{"events":[…]}`, at most 1,000 events;
//   - `application/x-ndjson`: one event per line, at most 100,000 lines; a line that is
//     not JSON is reported at its index like any other bad event, unless no line is.
// The answer is 200 `{"accepted","duplicates","unknown","invalid":[{"index","error"}]}`;
// `index` counts events from 0 (in NDJSON, the line number less one).
import Foundation
import HTTPTypes
import Hummingbird
import ListgateCore
import Logging
import NIOCore

struct FeedbackRoutes: Sendable {
    let feedback: Feedback
    let lists: any ListCatalog

    static let maximumJSONEvents = 1_000
    static let maximumNDJSONLines = 100_000
    /// 100,000 lines of about 150 bytes each are 15 MB; this leaves room for `detail`.
    static let maximumBodyBytes = 48 * 1024 * 1024
    /// For the connection guard, which answers 413 from a declared length alone.
    static let pathPattern = "/api/v1/lists/*/feedback"

    func addRoutes(to group: RouterGroup<SenderRequestContext>) {
        group.post("lists/:slug/feedback") { request, context in try await report(request, context) }
    }

    func report(_ request: Request, _ context: SenderRequestContext) async throws -> Response {
        let access = context.access
        try await SenderAPIRoutes.requireOwnList(context.parameters.require("slug"), access, lists: lists)
        let shape = try Self.shape(request.headers[.contentType])
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.feedbackTooLarge("the body may be at most \(Self.maximumBodyBytes) bytes")
        }
        let batch = try body.withUnsafeReadableBytes { bytes in
            switch shape {
            case .json: try FeedbackBatch.json(bytes)
            case .ndjson: try FeedbackBatch.ndjson(bytes)
            }
        }
        var outcome = try await feedback.apply(batch.events, toList: ListSlug(access.listSlug), source: access.source)
        // `Feedback` numbers what it was handed; the sender numbers what it sent.
        outcome.invalid = (batch.problems + outcome.invalid.map { FeedbackProblem(index: batch.indices[$0.index], error: $0.error) })
            .sorted { $0.index < $1.index }
        // Counts only: the reports name people.
        context.logger.info("feedback applied", metadata: [
            "token_id": "\(access.tokenID)", "accepted": "\(outcome.accepted)", "duplicates": "\(outcome.duplicates)",
            "unknown": "\(outcome.unknown)", "invalid": "\(outcome.invalid.count)",
        ])
        return JSONAnswer.body([
            "accepted": outcome.accepted, "duplicates": outcome.duplicates, "unknown": outcome.unknown,
            "invalid": outcome.invalid.map { ["index": $0.index, "error": $0.error] as [String: Any] },
        ], code: .ok)
    }

    enum Shape { case json, ndjson }

    /// The body's shape from its Content-Type (parameters such as charset are ignored).
    static func shape(_ contentType: String?) throws -> Shape {
        let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        switch type {
        case "application/json": return .json
        case "application/x-ndjson": return .ndjson
        default: throw Problem.feedbackMediaType
        }
    }
}

/// The events of one request body, each either read (with its index in the body) or a
/// problem at its index.
struct FeedbackBatch {
    var events: [FeedbackEvent] = []
    /// `indices[i]`: the index in the body of `events[i]`.
    var indices: [Int] = []
    var problems: [FeedbackProblem] = []

    mutating func add(_ result: Result<FeedbackEvent, FeedbackFieldError>, index: Int) {
        switch result {
        case .success(let event):
            events.append(event)
            indices.append(index)
        case .failure(let error):
            problems.append(FeedbackProblem(index: index, error: error.message))
        }
    }

    /// `{"events":[…]}`: anything else is 400; more than 1,000 events is 413.
    static func json(_ bytes: UnsafeRawBufferPointer) throws -> FeedbackBatch {
        let document: JSONBody
        do {
            document = try JSONDecoder().decode(JSONBody.self, from: Data(bytes))
        } catch let error as FeedbackFieldError {
            throw Problem.malformedFeedback(error.message)
        } catch {
            throw Problem.malformedFeedback("the body is not JSON: \(FeedbackFieldError.describe(error))")
        }
        guard document.events.count <= FeedbackRoutes.maximumJSONEvents else {
            throw Problem.feedbackTooLarge(
                "at most \(FeedbackRoutes.maximumJSONEvents) events in one JSON body; send more as application/x-ndjson")
        }
        var batch = FeedbackBatch()
        for (index, element) in document.events.enumerated() { batch.add(element.result, index: index) }
        return batch
    }

    /// One event per line (`\n`, or `\r\n`); blank lines are skipped but keep their number.
    static func ndjson(_ bytes: UnsafeRawBufferPointer) throws -> FeedbackBatch {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends a line, it starts none
        guard lines.count <= FeedbackRoutes.maximumNDJSONLines else {
            throw Problem.feedbackTooLarge(
                "at most \(FeedbackRoutes.maximumNDJSONLines) lines in one body; send the rest in another request")
        }
        var batch = FeedbackBatch()
        batch.events.reserveCapacity(lines.count)
        batch.indices.reserveCapacity(lines.count)
        let decoder = JSONDecoder()
        var anyObject = false
        var firstUnreadable: (line: Int, error: String)?
        for (index, line) in lines.enumerated() {
            var line = line
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            let result: Result<FeedbackEvent, FeedbackFieldError>
            do {
                result = .success(try decoder.decode(WireEvent.self, from: Data(line)).event)
                anyObject = true
            } catch let error as FeedbackFieldError {
                result = .failure(error)
                if error.notAnObject { firstUnreadable = firstUnreadable ?? (index + 1, error.message) } else { anyObject = true }
            } catch {
                let message = "not JSON: \(FeedbackFieldError.describe(error))"
                result = .failure(FeedbackFieldError(message))
                firstUnreadable = firstUnreadable ?? (index + 1, message)
            }
            batch.add(result, index: index)
        }
        // Not one line an event could be read from: this is not NDJSON at all.
        if !anyObject, let first = firstUnreadable {
            throw Problem.malformedFeedback("line \(first.line) is \(first.error)")
        }
        return batch
    }

    /// `{"events":[…]}`, each element read on its own so one bad event does not spoil the rest.
    struct JSONBody: Decodable {
        let events: [Element]

        struct Element: Decodable {
            let result: Result<FeedbackEvent, FeedbackFieldError>

            init(from decoder: any Decoder) throws {
                do {
                    result = .success(try WireEvent(from: decoder).event)
                } catch let error as FeedbackFieldError {
                    result = .failure(error)
                } catch {
                    result = .failure(FeedbackFieldError(FeedbackFieldError.describe(error)))
                }
            }
        }

        enum CodingKeys: String, CodingKey { case events }

        init(from decoder: any Decoder) throws {
            guard let container = try? decoder.container(keyedBy: CodingKeys.self) else {
                throw FeedbackFieldError(#"the body must be a JSON object {"events":[…]}"#)
            }
            guard container.contains(.events), let events = try? container.decode([Element].self, forKey: .events) else {
                throw FeedbackFieldError(#"the body must have "events", an array"#)
            }
            self.events = events
        }
    }
}

/// What is wrong with one event, in a sentence for the sender's developer.
struct FeedbackFieldError: Error {
    let message: String
    /// The value is JSON but not an object (so it is no event at all).
    var notAnObject = false

    init(_ message: String, notAnObject: Bool = false) {
        self.message = message
        self.notAnObject = notAnObject
    }

    /// A decoding error's own account (JSONDecoder says where the syntax broke).
    static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        switch decoding {
        case .dataCorrupted(let context):
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            return context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }
}

/// One event as the wire carries it: `{"id","type","recipient_id" or "email","occurred_at","detail"?}`.
/// Other members are ignored.
struct WireEvent: Decodable {
    let event: FeedbackEvent

    enum Key: String, CodingKey {
        case id, type, email, detail
        case recipientID = "recipient_id"
        case occurredAt = "occurred_at"
    }

    init(from decoder: any Decoder) throws {
        guard let object = try? decoder.container(keyedBy: Key.self) else {
            throw FeedbackFieldError("not a JSON object", notAnObject: true)
        }
        func text(_ key: Key) throws -> String? {
            guard object.contains(key), !((try? object.decodeNil(forKey: key)) ?? false) else { return nil }
            guard let value = try? object.decode(String.self, forKey: key) else {
                throw FeedbackFieldError("\(key.rawValue) must be a string")
            }
            return value
        }
        guard let id = try text(.id) else { throw FeedbackFieldError("id is missing") }
        let typeNames = FeedbackType.allCases.map(\.rawValue)
        guard let typeName = try text(.type) else {
            throw FeedbackFieldError("type is missing: use \(typeNames.joined(separator: ", "))")
        }
        guard let type = FeedbackType(rawValue: typeName) else {
            throw FeedbackFieldError("type must be \(typeNames.joined(separator: ", ")), not '\(typeName.prefix(40))'")
        }
        let recipient: FeedbackRecipient
        let named = (id: try text(.recipientID), email: try text(.email))
        switch (named.id, named.email) {
        case (let id?, nil): recipient = .recipientID(id)
        case (nil, let email?): recipient = .email(email)
        case (nil, nil): throw FeedbackFieldError("give recipient_id (from the recipients stream) or email")
        case (_?, _?): throw FeedbackFieldError("give recipient_id or email, not both")
        }
        guard let occurredText = try text(.occurredAt) else { throw FeedbackFieldError("occurred_at is missing") }
        guard let occurredAt = Timestamp.strictRFC3339(occurredText) else {
            throw FeedbackFieldError("occurred_at must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z")
        }
        var detail: [String: String] = [:]
        if object.contains(.detail), !((try? object.decodeNil(forKey: .detail)) ?? false) {
            guard let members = try? object.nestedContainer(keyedBy: AnyKey.self, forKey: .detail) else {
                throw FeedbackFieldError("detail must be an object")
            }
            for key in members.allKeys {
                if let value = try? members.decode(String.self, forKey: key) {
                    detail[key.stringValue] = value
                } else if let value = try? members.decode(Bool.self, forKey: key) {
                    detail[key.stringValue] = String(value)
                } else if let value = try? members.decode(Int64.self, forKey: key) {
                    detail[key.stringValue] = String(value)
                } else if let value = try? members.decode(Double.self, forKey: key) {
                    detail[key.stringValue] = String(value)
                } else if (try? members.decodeNil(forKey: key)) != true {
                    throw FeedbackFieldError("detail.\(key.stringValue.prefix(40)) must be a string, number or boolean")
                }
            }
        }
        event = FeedbackEvent(id: id, type: type, recipient: recipient, occurredAt: occurredAt, detail: detail)
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

extension Problem {
    static let feedbackMediaType = Problem(
        .unsupportedMediaType, code: "unsupported_media_type",
        message: #"send application/json ({"events":[…]}) or application/x-ndjson (one event per line)"#, page: nil)

    static func feedbackTooLarge(_ message: String) -> Problem {
        Problem(.contentTooLarge, code: "body_too_large", message: message, page: nil)
    }

    static func malformedFeedback(_ message: String) -> Problem {
        Problem(.badRequest, code: "malformed_body", message: message, page: nil)
    }
}
