// The optional body of `POST /api/v1/lists/{slug}/snapshots`: what the sender expects the
// audience to be (`AudienceExpectation`), `{"expect_count": N}` and/or `{"max_count": N}`.
// Read strictly on purpose: a misspelt key silently ignored would take the snapshot
// unchecked, which is exactly the incident the expectation exists to stop (README, "Why listgate exists":
// Channel Talk), so anything but those two keys with whole numbers is a 400.
import Foundation
import Hummingbird
import ListgateCore
import NIOCore

enum SnapshotExpectationBody {
    /// Far more than `{"expect_count": …, "max_count": …}` needs.
    static let maximumBodyBytes = 1_024

    /// nil for an empty body (a snapshot without an expectation, as before the guard).
    static func read(_ request: Request) async throws -> AudienceExpectation? {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.invalidExpectation("the body may be at most \(maximumBodyBytes) bytes")
        }
        guard body.readableBytes > 0 else { return nil }
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else { throw Problem.expectationMediaType }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(body.readableBytesView))
        } catch let error as UnknownKey {
            throw Problem.invalidExpectation(
                "unknown key '\(String(error.key.prefix(40)).printable)': give expect_count and/or max_count")
        } catch {
            throw Problem.invalidExpectation(
                #"give a JSON object such as {"expect_count": 1200} or {"max_count": 1500}, each a whole number"#)
        }
        do {
            return try AudienceExpectation(expectCount: fields.expectCount, maxCount: fields.maxCount)
        } catch {
            throw Problem.invalidExpectation(error.description)
        }
    }

    struct UnknownKey: Error {
        let key: String
    }

    struct Fields: Decodable {
        let expectCount: Int?
        let maxCount: Int?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            if let unknown = container.allKeys.first(where: { $0 != Key.expectCount && $0 != Key.maxCount }) {
                throw UnknownKey(key: unknown.stringValue)
            }
            expectCount = try container.decodeIfPresent(Int.self, forKey: Key.expectCount)
            maxCount = try container.decodeIfPresent(Int.self, forKey: Key.maxCount)
        }
    }

    struct Key: CodingKey, Equatable {
        static let expectCount = Key(stringValue: "expect_count")
        static let maxCount = Key(stringValue: "max_count")
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

extension Problem {
    static func invalidExpectation(_ message: String) -> Problem {
        Problem(.badRequest, code: "invalid_expectation", message: message, page: nil)
    }

    static let expectationMediaType = Problem(
        .unsupportedMediaType, code: "unsupported_media_type",
        message: #"send no body, or application/json such as {"expect_count": 1200}"#, page: nil)

    /// The audience is not what the sender expected; `count` is what it is, so the sender
    /// can see how far off it was. Nothing was kept.
    static func audienceMismatch(count: Int, expectation: AudienceExpectation) -> Problem {
        var problem = Problem(
            .conflict, code: "audience_mismatch",
            message: "the audience is \(count), not \(expectation.summary) as expected: no snapshot was taken", page: nil)
        problem.facts["count"] = count
        return problem
    }
}
