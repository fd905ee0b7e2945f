// The health endpoint, through the same application `listgate serve` runs: the database
// must answer and its disk must have room to write.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateServer
import Testing

@Suite("GET /healthz")
struct HealthRoutesTests {
    @Test("answers 200 ok while the database answers")
    func healthy() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let response = try await client.execute(uri: "/healthz", method: .get)
            #expect(response.status == .ok)
            #expect(response.text == "ok\n")
            #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
        }
    }

    @Test("free space is read from the database's file system and compared with the minimum")
    func diskSpace() throws {
        let fixture = FileManager.default.temporaryDirectory.appendingPathComponent("listgate.sqlite3").path
        let free = try #require(DiskSpace.freeBytes(inDirectoryOf: fixture))
        #expect(free > 0)
        #expect(!DiskSpace(databasePath: fixture, minimumFreeBytes: 0).isLow)
        #expect(DiskSpace(databasePath: fixture, minimumFreeBytes: free + (1 << 40)).isLow)
        #expect(DiskSpace(databasePath: "/nonexistent-\(UUID().uuidString)/db.sqlite3").isLow, "unknown counts as full")
        #expect(DiskSpace(databasePath: "x").minimumFreeBytes == 16 << 20)
    }

    @Test("a full disk under the database: /healthz is 503 and a refused write is a logged 500 with a body")
    func fullDisk() async throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-tmpfs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: mount) }
        // A small file system of its own, so that filling it harms nothing else (needs root).
        guard run("/bin/mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount.path) == 0 else {
            print("skipped the full-disk test: mounting a tmpfs is not permitted here")
            return
        }
        defer { _ = run("/bin/umount", "-l", mount.path) }

        let fixture = try await ServerFixture(directory: mount.appendingPathComponent("db"))
        fixture.configuration.diskSpace = DiskSpace(databasePath: fixture.databasePath, minimumFreeBytes: 256 << 10)
        let logs = CapturedLogs()
        try await fixture.test(logger: logs.logger) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.post("/lists/news/subscribe", form: ["email": "before@example.net"]).status == .ok)

            // Fill the file system to the last byte.
            let ballast = try FileHandle(forWritingTo: {
                let url = mount.appendingPathComponent("ballast")
                _ = FileManager.default.createFile(atPath: url.path, contents: nil)
                return url
            }())
            let chunk = Data(count: 64 << 10)
            var full = false
            for _ in 0..<1024 where !full {
                do { try ballast.write(contentsOf: chunk) } catch { full = true }
            }
            try? ballast.close()
            #expect(full, "the tmpfs filled up")

            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .serviceUnavailable)
            #expect(health.text == "unavailable: disk full\n")

            let refused = try await client.post("/lists/news/subscribe", form: ["email": "after@example.net"])
            #expect(refused.status.code >= 500 && refused.status.code < 600, "the write cannot succeed")
            #expect(refused.text.contains("<h1"), "a short page")
        }
        let errors = logs.entries.current.filter { $0.level == .error }
        #expect(errors.contains { $0.message.contains("disk") && $0.metadata["free_bytes"] != nil })
        #expect(errors.contains { ["/lists/{slug}/subscribe", "/lists/:slug/subscribe"].contains($0.metadata["route"] ?? "") })
        #expect(errors.contains { $0.metadata["route"] == "/healthz" && $0.metadata["status"] == "503" })
    }

    func run(_ executable: String, _ arguments: String...) -> Int32 {
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
