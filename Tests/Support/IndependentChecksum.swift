// The snapshot checksum computed by Python's hashlib, independently of listgate's code,
// so a test compares our figure with one our code had no part in.
import Foundation

public enum IndependentChecksum {
    /// SHA-256 (hex) of `keys` sorted and joined by "\n".
    public static func sha256(sortedAndJoined keys: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import hashlib,json,sys; k=json.load(sys.stdin); print(hashlib.sha256('\\n'.join(sorted(k)).encode()).hexdigest())"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: keys))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
