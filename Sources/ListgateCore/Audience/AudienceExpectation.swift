// What a sender expects of an audience before it is frozen (README, "Before you send"):
// the exact number of recipients it means to mail, or a ceiling. A snapshot that does not
// match is refused inside the store's transaction, so nothing of it is kept: the
// 2020 Channel Talk incident (README, "Why listgate exists") mailed a whole customer base where a handful
// was meant, and a count checked before sending would have stopped it.
public struct AudienceExpectation: Sendable, Equatable {
    /// The audience must be exactly this many.
    public let expectCount: Int?
    /// The audience must be at most this many.
    public let maxCount: Int?

    /// nil when neither is given: a snapshot without an expectation, as before.
    public init?(expectCount: Int?, maxCount: Int?) throws(DomainError) {
        guard expectCount != nil || maxCount != nil else { return nil }
        for (name, value) in [("expect_count", expectCount), ("max_count", maxCount)] {
            if let value, value < 0 { throw DomainError.invalidExpectation("\(name) must be 0 or more") }
        }
        self.expectCount = expectCount
        self.maxCount = maxCount
    }

    /// Throws `audienceMismatch` unless `count` meets every part given.
    public func check(count: Int) throws(DomainError) {
        if let expectCount, count != expectCount { throw DomainError.audienceMismatch(count: count, expectation: self) }
        if let maxCount, count > maxCount { throw DomainError.audienceMismatch(count: count, expectation: self) }
    }

    /// The parts given, for the `snapshot_taken` event's detail.
    public var eventDetail: [String: String] {
        var detail: [String: String] = [:]
        if let expectCount { detail["expect_count"] = String(expectCount) }
        if let maxCount { detail["max_count"] = String(maxCount) }
        return detail
    }

    /// "expected exactly 1", "expected at most 1", or both.
    public var summary: String {
        [expectCount.map { "exactly \($0)" }, maxCount.map { "at most \($0)" }].compactMap(\.self)
            .joined(separator: " and ")
    }
}
