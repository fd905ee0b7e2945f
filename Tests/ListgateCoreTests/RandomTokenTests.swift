// Specification of RandomToken: the requested number of bytes, every position of every
// eight-byte draw used (a shift mistake would leave a lane constant), never repeated.
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
