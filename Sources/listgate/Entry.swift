// Process entry: runs the chosen command and turns every failure into the contract's
// shape: non-zero exit, and `error: …` as the last line on stderr.
import ArgumentParser
import Foundation

@main
enum Entry {
    static func main() async {
        // Every file listgate creates holds secrets or addresses (the database and its -wal
        // and -shm, the delivery journal, .eml files, exports): owner only, whatever the
        // shell's umask. One setting here covers the files SQLite creates itself.
        umask(0o077)
        do {
            var command = try Listgate.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failed as PreflightFailed {
            // The check ran and was recorded; only its verdict is a failure.
            await LedgerSealing.sealAfterCommand()
            fail(failed)
        } catch {
            // Nothing is sealed on a failure, which changes nothing (an import stopped halfway
            // leaves its committed batches to the next command or the server to seal).
            fail(error)
        }
        await LedgerSealing.sealAfterCommand()
    }

    static func fail(_ error: Error) -> Never {
        let code = Listgate.exitCode(for: error)
        if code == .success {  // --help, --version
            print(Listgate.fullMessage(for: error))
            exit(0)
        }
        if let error = error as? any UserFacingError {
            Console.error(error.userMessage)
        } else {
            // Argument parsing errors: show usage, then the one-line error.
            let full = Listgate.fullMessage(for: error)
            let help = full.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("Error: ") }
                .joined(separator: "\n")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if !help.isEmpty { Console.writeStderr(help + "\n") }
            var message = Listgate.message(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            Console.error(message.isEmpty ? "\(error)" : message)
        }
        if error is PreflightNotChecked { exit(PreflightNotChecked.exitStatus) }
        exit(code == .success ? 1 : code.rawValue)
    }
}
