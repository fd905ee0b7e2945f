// Random identifiers and secrets from the system's CSPRNG.
import Foundation
public enum RandomToken {
    /// `count` random bytes, drawn eight at a time (each draw is a system call).
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var word: UInt64 = 0
            for index in 0..<count {
                if index % 8 == 0 { word = generator.next() }
                buffer[index] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(index % 8)))
            }
            initialized = count
        }
    }

    public static func hex(bytes count: Int) -> String {
        bytes(count).hexString
    }

    /// `count` bytes (at least 16) whose first six are the time in milliseconds, big-endian,
    /// and the rest random (80 bits or more). Rows keyed by such ids are inserted near each
    /// other in their unique index instead of at a random place in a large tree: one page
    /// written per commit rather than one per row (docs/design.md, "The write path").
    /// Unguessable still; the time they reveal is when the person asked.
    public static func timeOrderedBytes(_ count: Int = 16, now: Date = Date()) -> [UInt8] {
        precondition(count >= 16)
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        return (0..<6).map { UInt8(truncatingIfNeeded: milliseconds >> (8 * UInt64(5 - $0))) } + bytes(count - 6)
    }

    /// `timeOrderedBytes(16)` as 32 lower-case hex digits (sorting as the bytes do).
    public static func timeOrderedHex() -> String {
        timeOrderedBytes().hexString
    }
}
