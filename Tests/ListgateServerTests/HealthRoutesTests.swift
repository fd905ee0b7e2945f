// The health endpoint, through the same application `listgate serve` runs: the database
// must answer and its disk must have room to write.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateServer
import ListgateTestSupport
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
        guard let disk = SmallFileSystem(megabytes: 4) else {
            print("skipped the full-disk test: mounting a tmpfs is not permitted here")
            return
        }
        let fixture = try await ServerFixture(directory: disk.url.appendingPathComponent("db"))
        fixture.configuration.diskSpace = DiskSpace(databasePath: fixture.databasePath, minimumFreeBytes: 256 << 10)
        let logs = CapturedLogs()
        try await fixture.test(logger: logs.logger) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.post("/lists/news/subscribe", form: ["email": "before@example.net"]).status == .ok)
            try await fixture.settled()  // decided while there is room

            // Fill the file system to the last byte.
            let full = disk.fill()
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
}
