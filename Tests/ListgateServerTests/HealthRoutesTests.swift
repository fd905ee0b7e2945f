// The health endpoint, through the same application `listgate serve` runs.
import Foundation
import Hummingbird
import HummingbirdTesting
import ListgateCore
import Logging
import Testing
@testable import ListgateServer

@Suite("GET /healthz")
struct HealthRoutesTests {
    @Test("answers 200 ok while the database answers")
    func healthy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-server-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("db.sqlite3").path)
        _ = try await store.migrate()

        let server = ListgateHTTPServer(store: store, host: "127.0.0.1", port: 0, logger: Logger(label: "test"))
        try await server.buildApplication().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
            }
        }
    }
}
