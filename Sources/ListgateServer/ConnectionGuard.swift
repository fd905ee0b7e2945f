// Defences against slow and greedy clients, below the router, one handler per connection:
// a deadline for each request head and for each step of a body, a declared body over the
// limit refused before any of it is read, and a roster of open connections so that, when
// every place is taken, the one that has waited longest for its request gives way to a
// newcomer. Hummingbird's idle timeout still closes kept-alive connections nobody uses,
// and its connection cap still stops accepting when no connection can give way.
import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The largest request body the server takes, by route. The `Content-Length` a client
/// declares is checked against it before any body byte is read; routes check again as
/// they read, for bodies sent without a length.
public struct BodyLimits: Sendable, Equatable {
    /// Every route not named in `larger`: form posts are small.
    public var standard = FormLimits.bodyBytes
    /// Routes that take more, by path pattern, `*` standing for one segment: the sender
    /// API's feedback route takes a batch of reports, its preflight one rendered message.
    public var larger: [String: Int] = [
        FeedbackRoutes.pathPattern: FeedbackRoutes.maximumBodyBytes,
        PreflightRoutes.pathPattern: PreflightRoutes.maximumBodyBytes,
    ]

    public init() {
        // The provider webhooks' own limits (ProviderWebhookLimits).
        larger.merge(ProviderWebhookLimits.bodyBytes) { _, webhook in webhook }
    }

    func bytes(forPath target: String) -> Int {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let segments = path.split(separator: "/")
        for (pattern, bytes) in larger {
            let parts = pattern.split(separator: "/")
            if parts.count == segments.count, zip(parts, segments).allSatisfy({ $0 == "*" || $0 == $1 }) { return bytes }
        }
        return standard
    }
}

/// The deadlines and limits one connection's guard enforces.
struct ConnectionRules: Sendable {
    var headerTimeout: TimeAmount
    var bodyTimeout: TimeAmount
    var bodyLimits: BodyLimits
    /// How long a refused connection may keep sending before it is closed outright.
    var linger: TimeAmount = .seconds(2)
}

/// Every open connection, and since when each could be closed without losing anyone's
/// work: while it waits for a request head or sits idle between requests, or once a body
/// has been trickling in for longer than the body timeout. A connection that takes the
/// last place closes the one that has been in that state longest, so a flood of idle or
/// dripping connections pushes out its own members rather than the clients being served.
final class ConnectionRoster: Sendable {
    typealias ID = Int

    private struct Member {
        let channel: any Channel
        var yieldableSince: NIODeadline?
    }

    private struct State {
        var nextID = 0
        var members: [ID: Member] = [:]
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Enrols a new connection (it may give way at once: it has sent nothing yet). Returns
    /// its id, and the connection to close to make room when this one took the last place.
    func admit(_ channel: any Channel, now: NIODeadline = .now()) -> (id: ID, makeRoom: (any Channel)?) {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.members[id] = Member(channel: channel, yieldableSince: now)
            guard state.members.count >= capacity else { return (id, nil) }
            var oldest: (id: ID, since: NIODeadline)?
            for (other, member) in state.members where other != id {
                guard let since = member.yieldableSince, since <= now else { continue }
                if oldest == nil || since < oldest!.since { oldest = (other, since) }
            }
            // Struck off now, so that the next newcomer picks someone else while it closes.
            return (id, oldest.flatMap { state.members.removeValue(forKey: $0.id)?.channel })
        }
    }

    /// From when the connection may give way; nil while the server is working for it.
    func update(_ id: ID?, yieldableSince: NIODeadline?) {
        guard let id else { return }
        state.withLock { state in state.members[id]?.yieldableSince = yieldableSince }
    }

    func leave(_ id: ID?) {
        guard let id else { return }
        _ = state.withLock { state in state.members.removeValue(forKey: id) }
    }
}

/// One per connection, right after the HTTP/1 codec: it sees request parts come in and
/// response parts go out, so it knows at every moment whom the connection waits for.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Waiting {
        /// For a request head to be complete: a new connection, or a kept-alive one on
        /// which bytes of the next request have arrived.
        case head
        /// For the next part of a request body.
        case body
        /// For the server's own answer: the request was read whole.
        case answer
        /// For nothing from the client yet: kept alive between requests (Hummingbird's
        /// idle timeout applies).
        case nextRequest
        /// For nothing: a refusal was written and the connection is closing.
        case closing
    }

    private let rules: ConnectionRules
    private let roster: ConnectionRoster
    private let logger: Logger
    private var waiting = Waiting.head
    /// Requests whose answer has not been written to its end (more than one when pipelined).
    private var unanswered = 0
    private var id: ConnectionRoster.ID?
    private var timer: Scheduled<Void>?
    /// A read was asked for and nothing has arrived since, so the time is the client's.
    /// When the application is slow to take what was read, NIO stops asking for more,
    /// and that wait must not count against the client.
    private var readPending = false
    /// Whether the current read brought any request part (rather than bytes the codec is
    /// still collecting into a head).
    private var partsInThisRead = false

    init(rules: ConnectionRules, roster: ConnectionRoster, logger: Logger) {
        self.rules = rules
        self.roster = roster
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        let (id, makeRoom) = roster.admit(context.channel)
        self.id = id
        if let makeRoom {
            Self.count("gave_way")
            makeRoom.close(promise: nil)
        }
        if context.channel.isActive { startHeadClock(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopClock()
        roster.leave(id)
    }

    func channelActive(context: ChannelHandlerContext) {
        startHeadClock(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopClock()
        roster.leave(id)
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partsInThisRead = true
        guard waiting != .closing else { return }  // what a refused client still sends is dropped
        switch unwrapInboundIn(data) {
        case .head(let head):
            let limit = rules.bodyLimits.bytes(forPath: head.path ?? "/")
            if let declared = head.headerFields[.contentLength].flatMap({ Int($0) }), declared > limit {
                refuse(context, head, limit: limit)
                return
            }
            unanswered += 1
            waiting = .body
            // A client that asked to be told before it sends its body (curl does from 1 MiB
            // up, a sender posting a message to the preflight) is told now that the declared
            // length passed; otherwise it waits a second for nothing (RFC 9110, 10.1.1).
            if head.headerFields[.expect]?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
            // A body may take its time between parts, but one still arriving after a whole
            // body timeout may give way under load.
            roster.update(id, yieldableSince: .now() + rules.bodyTimeout)
            startClock(context, rules.bodyTimeout, reason: "body_timeout")
        case .body:
            startClock(context, rules.bodyTimeout, reason: "body_timeout")
        case .end:
            stopClock()
            if unanswered > 0 {
                waiting = .answer
                roster.update(id, yieldableSince: nil)
            } else {
                // Answered before the body ended (a refusal that did not read it).
                waiting = .nextRequest
                roster.update(id, yieldableSince: .now())
            }
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readPending = false
        // Bytes arrived that are not yet a request part: the next request's head has begun.
        if waiting == .nextRequest, !partsInThisRead {
            waiting = .head
            startClock(context, rules.headerTimeout, reason: "header_timeout")
        }
        partsInThisRead = false
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if waiting == .closing, case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        readPending = true
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            if waiting == .answer, unanswered == 0 {
                waiting = .nextRequest
                roster.update(id, yieldableSince: .now())
            }
        }
        context.write(data, promise: promise)
    }

    // MARK: Deadlines

    private func startHeadClock(_ context: ChannelHandlerContext) {
        guard waiting == .head, timer == nil else { return }
        startClock(context, rules.headerTimeout, reason: "header_timeout")
    }

    private func startClock(_ context: ChannelHandlerContext, _ timeout: TimeAmount, reason: String) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            guard readPending else {
                // The application has not asked for more yet: the client is not late.
                startClock(context, timeout, reason: reason)
                return
            }
            Self.count(reason)
            logger.debug("closing a connection", metadata: ["reason": .string(reason)])
            context.close(promise: nil)
        }
    }

    private func stopClock() {
        timer?.cancel()
        timer = nil
    }

    // MARK: Refusal

    /// 413 from the head alone, then close: the body is never read, whatever its size.
    private func refuse(_ context: ChannelHandlerContext, _ head: HTTPRequest, limit: Int) {
        waiting = .closing
        stopClock()
        Self.count("body_too_large")
        let problem = Problem.bodyTooLarge
        let message = "The request body may be at most \(limit) bytes."
        var fields: HTTPFields = [.connection: "close", .cacheControl: "no-store"]
        let body: ByteBuffer
        if AcceptHeader(head.headerFields[values: .accept]).prefersJSON {
            fields[.contentType] = "application/json; charset=utf-8"
            body = ByteBuffer(string: #"{"error":{"code":"\#(problem.code)","message":"\#(message)"}}"#)
        } else {
            fields[.contentType] = "text/plain; charset=utf-8"
            body = ByteBuffer(string: "\(problem.page?.wording(.en)?.title ?? problem.code): \(message)\n")
        }
        fields[.contentLength] = String(body.readableBytes)
        SecurityHeaders.add(to: &fields, path: head.path ?? "/")
        context.write(wrapOutboundOut(.head(HTTPResponse(status: problem.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in linger(context) }
    }

    /// Closing at once, with body bytes already on their way, would reset the connection,
    /// and a reset can destroy the answer before the client reads it. So the sending side
    /// closes first, whatever still arrives is dropped, and the connection closes when the
    /// client closes its side or after `rules.linger`.
    private func linger(_ context: ChannelHandlerContext) {
        let closed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: closed)
        closed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: rules.linger) { context.close(promise: nil) }
    }

    private static func count(_ reason: String) {
        Counter(label: "listgate_connections_closed_total", dimensions: [("reason", reason)]).increment()
    }
}
