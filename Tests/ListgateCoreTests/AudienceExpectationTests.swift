// The expected-audience rule (AudienceExpectation), without a store.
import Testing
@testable import ListgateCore

@Suite("Expected audience")
struct AudienceExpectationTests {
    @Test("no expected count and no maximum is no expectation at all")
    func neitherIsNone() throws {
        #expect(try AudienceExpectation(expectCount: nil, maxCount: nil) == nil)
    }

    @Test("an expected count holds for exactly that count")
    func expectCountIsExact() throws {
        let expectation = try #require(try AudienceExpectation(expectCount: 300, maxCount: nil))
        try expectation.check(count: 300)
        #expect(throws: DomainError.audienceMismatch(count: 299, expectation: expectation)) { try expectation.check(count: 299) }
        #expect(throws: DomainError.audienceMismatch(count: 301, expectation: expectation)) { try expectation.check(count: 301) }
    }

    @Test("a maximum holds up to and including it")
    func maxCountIsACeiling() throws {
        let expectation = try #require(try AudienceExpectation(expectCount: nil, maxCount: 1))
        try expectation.check(count: 0)
        try expectation.check(count: 1)
        #expect(throws: DomainError.audienceMismatch(count: 300, expectation: expectation)) { try expectation.check(count: 300) }
    }

    @Test("both given, both must hold")
    func bothMustHold() throws {
        let expectation = try #require(try AudienceExpectation(expectCount: 5, maxCount: 4))
        #expect(throws: DomainError.self) { try expectation.check(count: 5) }
        #expect(throws: DomainError.self) { try expectation.check(count: 4) }
    }

    @Test("a negative count is refused as an expectation no audience can meet")
    func negativeIsInvalid() {
        #expect(throws: DomainError.invalidExpectation("expect_count must be 0 or more")) {
            try AudienceExpectation(expectCount: -1, maxCount: nil)
        }
        #expect(throws: DomainError.invalidExpectation("max_count must be 0 or more")) {
            try AudienceExpectation(expectCount: nil, maxCount: -1)
        }
    }

    @Test("the refusal says the actual count and what was expected")
    func messageSaysBoth() throws {
        let expectation = try #require(try AudienceExpectation(expectCount: nil, maxCount: 1))
        #expect(DomainError.audienceMismatch(count: 300, expectation: expectation).description
                == "the audience is 300, not at most 1 as expected: no snapshot was taken")
    }
}
