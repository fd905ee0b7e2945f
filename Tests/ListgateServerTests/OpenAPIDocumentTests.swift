// `openapi.yaml` is the contract a sender and a form integrator code against: the
// server's routes and the document must name the same operations.
import Foundation
import Hummingbird
import ListgateServer
import Logging
import Testing

@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi.yaml")

    /// "METHOD /path/{param}" for every operation under `paths`, read by a real YAML
    /// parser (Python's, from Debian's python3-yaml), so a document that does not parse fails.
    func documentedOperations() throws -> Set<String> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", """
            import sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            for path, item in doc["paths"].items():
                for method in item:
                    if method in ("get", "post", "put", "patch", "delete", "head", "options"):
                        print(method.upper(), path)
            """, Self.documentURL.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openapi.yaml parses as YAML")
        return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    @Test("every route the server answers is documented, and every documented operation exists")
    func routesMatchDocument() async throws {
        let fixture = try await ServerFixture()
        let server = ListgateHTTPServer(store: fixture.store, configuration: fixture.configuration, renderer: fixture.composer, logger: Logger(label: "test"))
        let served = Set(try await server.buildRouter().routes.map { route in
            let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return "\(route.method.rawValue) /\(path.joined(separator: "/"))"
        })
        let documented = try documentedOperations()
        #expect(served.count >= 15, "the router reports its routes")
        #expect(served.subtracting(documented).sorted() == [], "served but not in openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in openapi.yaml but not served")
    }

    @Test("the document declares OpenAPI 3.1 and a bearer scheme for the sender API")
    func header() throws {
        let text = try String(contentsOf: Self.documentURL, encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3.1"))
        #expect(text.contains("scheme: bearer"))
    }
}
