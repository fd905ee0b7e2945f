// A file with personal data that appears whole or not at all: written beside its final
// name (owner only), synced, then put in place. Unless asked to, it never replaces a file
// already there: a disclosure written over another person's would be a breach of its own.
import Foundation
import ListgateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class PrivateFile {
    let finalPath: String
    private let temporaryPath: String
    private let replacing: Bool
    private var descriptor: Int32
    private var committed = false

    /// Claims the temporary file now, so a path that cannot be written fails before the
    /// caller records anything.
    init(finalPath: String, replacing: Bool) throws {
        self.finalPath = finalPath
        self.replacing = replacing
        if !replacing, FileManager.default.fileExists(atPath: finalPath) {
            throw CLIError("\(finalPath) already exists; choose another file or give --force to replace it")
        }
        temporaryPath = finalPath + ".partial-\(RandomToken.hex(bytes: 4))"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure(finalPath) }
    }

    deinit {
        guard !committed else { return }
        if descriptor >= 0 { close(descriptor) }
        unlink(temporaryPath)
    }

    func commit(_ data: Data) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var done = 0
            while done < bytes.count {
                let n = write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw Self.failure(finalPath) }
                done += n
            }
        }
        try commitWritten()
    }

    /// The temporary file, for a writer of its own (SQLite, for `backup`) to fill before
    /// `commitWritten`. That writer must have closed it by then.
    var pathForWriting: String { temporaryPath }

    /// Syncs the temporary file as it was written and puts it in place.
    func commitWritten() throws {
        let synced = fsync(descriptor) == 0
        let closed = close(descriptor) == 0
        descriptor = -1
        guard synced, closed else { throw Self.failure(finalPath) }
        if replacing {
            guard rename(temporaryPath, finalPath) == 0 else { throw Self.failure(finalPath) }
        } else {
            // link() refuses an existing name, so a file created there meanwhile survives too.
            guard link(temporaryPath, finalPath) == 0 else {
                if errno == EEXIST {
                    throw CLIError("\(finalPath) already exists; choose another file or give --force to replace it")
                }
                throw Self.failure(finalPath)
            }
            unlink(temporaryPath)
        }
        committed = true
    }

    private static func failure(_ path: String) -> CLIError {
        CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
}
