// Runs one of the support bundle's Python scripts as a child process: bytes in on stdin,
// bytes out on stdout, and its stderr when it fails. Shared by the strict mail reader
// (MailInspector) and the independent newsletter renderer (Newsletter).
import Foundation

enum PythonScript {
    struct Outcome {
        let status: Int32
        let stdout: Data
        let stderr: String
    }

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ name: String, input: Data) throws -> Outcome {
        guard let script = Bundle.module.url(forResource: name, withExtension: "py") else {
            throw Missing(description: "\(name).py is missing from the test support bundle")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Written from another thread: a large input could fill the pipe while the child is
        // blocked writing its own output.
        let writer = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: data, stderr: errorText)
    }
}
