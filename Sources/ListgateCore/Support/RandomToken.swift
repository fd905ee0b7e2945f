// Random identifiers and secrets from the system's CSPRNG.
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
}
