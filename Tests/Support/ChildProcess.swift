// Runs a program as a child process for the tests: its arguments, its environment, bytes
// on its stdin (or none), and both its outputs read to the end before it is waited for,
// so a chatty child never blocks on a full pipe. The built binary (BinarySupport), the
// strict mail reader (MailInspector) and the newsletter renderer (Newsletter) all run
// through it.
import Foundation

public enum ChildProcess {
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: Data
        public let stderr: Data
    }

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    /// `environment` replaces the child's whole environment when given.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil,
        input: Data? = nil
    ) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
        if let stdin, let input {
            // Written from another thread: a large input could fill the pipe while the
            // child is blocked writing its own output.
            let writer = Thread {
                stdin.fileHandleForWriting.write(input)
                try? stdin.fileHandleForWriting.close()
            }
            writer.start()
        }
        // stderr on its own thread too, so neither pipe can fill while the other is read.
        let errors = LockedData()
        let errorReader = Thread { errors.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: out, stderr: errors.waitForValue())
    }

    /// One of the support bundle's Python scripts (`NAME.py`), with `input` on its stdin.
    static func python(_ name: String, input: Data) throws -> Outcome {
        guard let script = Bundle.module.url(forResource: name, withExtension: "py") else {
            throw Missing(description: "\(name).py is missing from the test support bundle")
        }
        return try run(URL(fileURLWithPath: "/usr/bin/python3"), [script.path], input: input)
    }
}

/// The stderr read on another thread, handed over once it reached its end.
private final class LockedData: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Data?

    func set(_ data: Data) {
        condition.lock()
        value = data
        condition.signal()
        condition.unlock()
    }

    func waitForValue() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}
