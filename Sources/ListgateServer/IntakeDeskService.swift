// Runs the IntakeDesk beside the HTTP server: the form routes record posts and ring
// the bell; the desk decides them (confirmation mail, unsubscribe link, or nothing) a
// moment later. It also looks every second, so posts recorded by another process, or
// before a crash, are decided without a ring.
import CoreMetrics
import ListgateCore
import Logging
import ServiceLifecycle

public final class IntakeDeskService: Service, Sendable {
    let desk: IntakeDesk
    let logger: Logger
    private let bell: AsyncStream<Void>
    private let ringer: AsyncStream<Void>.Continuation

    init(desk: IntakeDesk, logger: Logger) {
        self.desk = desk
        self.logger = logger
        (bell, ringer) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// How long after a ring the desk starts deciding.
    static let afterAnswer: Duration = .milliseconds(20)

    /// A post was recorded: decide it now rather than at the next look.
    func ring() { ringer.yield() }

    public func run() async throws {
        let ringer = self.ringer
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        ringer.yield()
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                for await _ in self.bell {
                    // Decide after the answer has gone out, not beside it: work that
                    // depends on the address's state must not lengthen that answer.
                    try? await Task.sleep(for: Self.afterAnswer)
                    await self.decideWaiting()
                }
                group.cancelAll()
            }
        }
    }

    private func decideWaiting() async {
        do {
            let pass = try await desk.decideAll()
            if pass.decided > 0 {
                Counter(label: "listgate_form_requests_decided_total").increment(by: pass.decided)
            }
            if pass.dropped > 0 {
                logger.error("form requests dropped undecided: no longer acceptable, or failed too often",
                             metadata: ["count": "\(pass.dropped)"])
            }
            if pass.failed > 0 {
                logger.error("deciding form requests failed; they are tried again",
                             metadata: ["count": "\(pass.failed)", "error_type": "\(pass.lastError ?? "")"])
            }
        } catch is CancellationError {
            return  // shutting down: the rows stay recorded and are decided at the next start
        } catch {
            // The rows stay recorded: the next look decides them.
            logger.error("deciding form requests failed", metadata: ["error": "\(error)"])
        }
    }
}
