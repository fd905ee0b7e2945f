// Specification of RandomToken: the requested number of bytes, every position of every
// eight-byte draw used (a shift mistake would leave a lane constant), never repeated.
import Foundation
import ListgateCore
import Testing

@Suite("Random tokens")
struct RandomTokenTests {
    @Test("bytes come in the length asked for, including lengths that are not a multiple of eight", arguments: [0, 1, 7, 8, 9, 16, 33])
    func lengths(_ count: Int) {
        #expect(RandomToken.bytes(count).count == count)
        #expect(RandomToken.hex(bytes: count).utf8.count == 2 * count)
    }

    @Test("each of the eight positions within a draw takes nearly every byte value")
    func everyLaneVaries() {
        let bytes = RandomToken.bytes(8 * 4096)
        for lane in 0..<8 {
            let values = Set(stride(from: lane, to: bytes.count, by: 8).map { bytes[$0] })
            // 4,096 uniform draws miss a given value with probability ~1e-7; all 256 but a few appear.
            #expect(values.count >= 250, "lane \(lane) took only \(values.count) values")
        }
    }

    @Test("two tokens are never the same")
    func distinct() {
        let tokens = (0..<1000).map { _ in RandomToken.hex(bytes: 16) }
        #expect(Set(tokens).count == tokens.count)
    }
}

@Suite("Time-ordered ids")
struct TimeOrderedIDTests {
    @Test("the first six bytes are the time in milliseconds, big-endian, and the rest is random")
    func layout() {
        let now = Date(timeIntervalSince1970: 1_796_000_000.123)
        let bytes = RandomToken.timeOrderedBytes(now: now)
        #expect(bytes.count == 16)
        let milliseconds = bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(milliseconds == 1_796_000_000_123)
        let tails = Set((0..<1000).map { _ in RandomToken.timeOrderedBytes(now: now).suffix(10) })
        #expect(tails.count == 1000)
    }

    @Test("ids made later sort after ids made earlier, so an index takes them at its end")
    func sortsByTime() {
        let start = Date(timeIntervalSince1970: 1_796_000_000)
        let hexes = (0..<100).map { step in
            RandomToken.timeOrderedBytes(now: start.addingTimeInterval(Double(step) * 0.001)).prefix(6)
        }
        #expect(hexes.map { Array($0) }.lexicographicallySorted)
        #expect(RandomToken.timeOrderedHex().utf8.count == 32)
    }

    @Test("link ids made within a second share their leading characters and are never the same")
    func linkIDs() {
        let ids = (0..<1000).map { _ in TokenSigner.newID() }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map { $0.prefix(6) }).count <= 2)
        #expect(ids.allSatisfy { $0.utf8.count == 22 })
    }
}

extension Array where Element == [UInt8] {
    fileprivate var lexicographicallySorted: Bool {
        zip(self, dropFirst()).allSatisfy { !$1.lexicographicallyPrecedes($0) }
    }
}
