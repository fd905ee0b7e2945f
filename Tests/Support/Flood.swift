// A connection flood run by flood.py in a child process of its own, so the thousands of
// sockets it holds never sit in the test process (whose Process.run would then have to
// step over them while other tests start child processes).
import Foundation

public final class Flood: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    public private(set) var opened = 0
    public private(set) var dripping = 0

    /// Starts `idle` idle connections and `drip` dripping ones to 127.0.0.1:`port` and
    /// returns once they stand (at most 120 s).
    public init(port: Int, idle: Int, drip: Int) throws {
        guard let script = Bundle.module.url(forResource: "flood", withExtension: "py") else {
            throw SMTPSinkError("flood.py is not in the ListgateTestSupport resource bundle")
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, String(port), String(idle), String(drip)]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let words = (readLine() ?? "").split(separator: " ")
        guard words.first == "ready", words.count == 3 else { throw SMTPSinkError("flood.py did not start") }
        opened = Int(words[1]) ?? 0
        dripping = Int(words[2]) ?? 0
    }

    /// Ends the flood; returns how many idle connections the server had closed.
    public func stop() -> Int {
        try? input.fileHandleForWriting.close()
        let words = (readLine() ?? "").split(separator: " ")
        process.waitUntilExit()
        return words.first == "done" && words.count == 2 ? Int(words[1]) ?? 0 : 0
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    private func readLine() -> String? {
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first else { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if first == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(first)
        }
    }
}
