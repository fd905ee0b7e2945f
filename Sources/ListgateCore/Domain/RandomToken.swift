// Random identifiers and secrets from the system's CSPRNG.
public enum RandomToken {
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    public static func hex(bytes count: Int) -> String {
        bytes(count).hexString
    }
}
