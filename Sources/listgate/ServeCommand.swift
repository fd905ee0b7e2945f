// `listgate serve`: the HTTP server (and, as it lands, the outbox worker).
import ArgumentParser
import Foundation
import ListgateCore
import ListgateServer
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server.",
        discussion: "Refuses to start on a database that needs `listgate migrate`."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (env LISTGATE_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env LISTGATE_PORT; default 8080).")
    var port: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let host = self.host ?? environment["LISTGATE_HOST"] ?? "127.0.0.1"
        let portText = port.map(String.init) ?? environment["LISTGATE_PORT"] ?? "8080"
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw CLIError("invalid port '\(portText)': use a number from 0 to 65535")
        }
        let store = try await database.openMigrated()
        var logger = Logger(label: "listgate")
        logger.logLevel = .info
        let server = ListgateHTTPServer(store: store, host: host, port: port, logger: logger)
        try await server.run()
    }
}
