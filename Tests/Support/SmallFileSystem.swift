// A tmpfs of a few MiB mounted for one test, so that filling it to the last byte (a full
// disk) harms nothing else. Mounting needs root, which `make test` and CI have; elsewhere
// `mount` returns nil and the test says it was skipped.
import Foundation

public final class SmallFileSystem: @unchecked Sendable {
    public let url: URL
    private let ballast: URL

    /// nil when mounting is not permitted here.
    public init?(megabytes: Int) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-tmpfs-\(UUID().uuidString)")
        ballast = url.appendingPathComponent("ballast")
        guard (try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)) != nil,
              Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", url.path) == 0
        else {
            try? FileManager.default.removeItem(at: url)
            return nil
        }
    }

    deinit {
        _ = Self.run("/bin/umount", "-l", url.path)
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes a file until the file system refuses; true when it did.
    public func fill() -> Bool {
        _ = FileManager.default.createFile(atPath: ballast.path, contents: nil)
        guard let handle = try? FileHandle(forWritingTo: ballast) else { return false }
        defer { try? handle.close() }
        for _ in 0..<4096 {
            do { try handle.write(contentsOf: Data(count: 64 << 10)) } catch { return true }
        }
        return false
    }

    /// Room again.
    public func empty() throws {
        try FileManager.default.removeItem(at: ballast)
    }

    private static func run(_ executable: String, _ arguments: String...) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
