// The progress line of long imports and exports: rows, rate and ETA on stderr, redrawn
// at most four times a second, only when stderr is a terminal and --quiet was not given.
// Row problems go through it too, so a message never lands in the middle of the line.
import Foundation
import ListgateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private let enabled: Bool
    private let noun: String
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastDrawn: ContinuousClock.Instant?
    private var showing = false
    /// Messages waiting to go out in one write.
    private var pending = ""

    init(quiet: Bool, noun: String) {
        enabled = !quiet && isatty(STDERR_FILENO) == 1
        self.noun = noun
        started = clock.now
    }

    /// Called once per batch: also lets waiting messages out, so problems found so far
    /// are on stderr even if the process is stopped.
    func update(_ progress: TransferProgress) {
        lock.withLock {
            if !pending.isEmpty {
                write(pending)
                pending = ""
            }
            guard enabled else { return }
            let now = clock.now
            if let lastDrawn, now - lastDrawn < .milliseconds(250) { return }
            lastDrawn = now
            let elapsed = Self.seconds(now - started)
            var line = "\(Self.grouped(progress.rows)) \(noun)"
            if let total = progress.totalRows { line += " of \(Self.grouped(total))" }
            if let fraction = progress.fraction { line += " (\(Int(fraction * 100))%)" }
            if elapsed > 0 { line += ", \(Self.grouped(Int(Double(progress.rows) / elapsed))) \(noun)/s" }
            if let fraction = progress.fraction, fraction > 0, fraction < 1, elapsed > 0 {
                line += ", ETA \(Self.duration(elapsed * (1 - fraction) / fraction))"
            }
            write("\r\u{1B}[K" + line)
            showing = true
        }
    }

    /// A line for stderr (a row problem), kept clear of the progress line.
    func message(_ text: String) {
        lock.withLock {
            pending += (showing ? "\r\u{1B}[K" : "") + text + "\n"
            showing = false
            if pending.utf8.count >= 1 << 16 {
                write(pending)
                pending = ""
            }
        }
    }

    /// Writes what is waiting and clears the progress line.
    func finish() {
        lock.withLock {
            write((showing ? "\r\u{1B}[K" : "") + pending)
            pending = ""
            showing = false
        }
    }

    private func write(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }

    private static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
