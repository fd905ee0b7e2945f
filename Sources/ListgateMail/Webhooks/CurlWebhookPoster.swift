// HTTP POSTs to one webhook receiver through libcurl. ListgateMail is listgate's outbound
// delivery target, mail and webhooks alike, and the only target that links libcurl
// (Package.swift); libcurl is already there for SMTP, so webhooks add no dependency, where
// AsyncHTTPClient would bring swift-nio-ssl and minutes of build for one POST.
//
// A receiver gets a few lanes (the bounded number of POSTs in flight to it), each one easy
// handle with its kept-alive connection, used only on its own serial DispatchQueue, so
// `curl_easy_perform` never blocks Swift's cooperative pool, and a slow receiver holds only
// its own lanes. Redirects are never followed (a 3xx is a failed attempt), only http and
// https are spoken, certificates are verified, and the answer's body is dropped unread.
import CCurl
import Dispatch
import Foundation
import ListgateCore
import Synchronization

/// One POST to send: the URL and the signed request.
struct WebhookRequest: Sendable {
    var url: String
    var headers: [String]
    var body: [UInt8]
}

/// What came back: an HTTP status, or why none did.
enum WebhookAnswer: Sendable, Equatable {
    case status(Int)
    case noAnswer(String)
    /// Not sent: the worker was stopping.
    case notAttempted
}

/// The lanes of one receiver.
final class CurlWebhookPoster: Sendable {
    private let lanes: [Lane]

    private struct Lane: Sendable {
        let connection: CurlHTTPConnection
        let queue: DispatchQueue
    }

    init(receiver: String, lanes count: Int, timeout: Duration, connectTimeout: Duration) throws(WebhookPosterError) {
        var lanes: [Lane] = []
        for index in 0..<max(1, count) {
            lanes.append(Lane(
                connection: try CurlHTTPConnection(
                    timeoutMilliseconds: Self.milliseconds(timeout), connectTimeoutMilliseconds: Self.milliseconds(connectTimeout)),
                queue: DispatchQueue(label: "listgate.webhook.\(receiver).\(index)")))
        }
        self.lanes = lanes
    }

    deinit {
        // curl_easy_cleanup may wait on a connection: on the lane, after its last POST.
        for lane in lanes {
            let connection = lane.connection
            lane.queue.async { withExtendedLifetime(connection) {} }
        }
    }

    /// Sends every request, each lane taking the next unsent one, and returns the answers
    /// in the requests' order. `prepare` is called on the lane just before the POST (so
    /// the signature's timestamp is the attempt's own). When the task is cancelled (the
    /// server stops), the POSTs under way finish and the rest are `notAttempted`.
    func post(count: Int, prepare: @escaping @Sendable (Int) -> WebhookRequest) async -> [WebhookAnswer] {
        let batch = PostBatch(count: count)
        await withTaskCancellationHandler {
            await run(batch, prepare: prepare)
        } onCancel: {
            batch.stop()
        }
        return batch.answers
    }

    private func run(_ batch: PostBatch, prepare: @escaping @Sendable (Int) -> WebhookRequest) async {
        let count = batch.count
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes.prefix(count) {
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        lane.queue.async {
                            while let index = batch.take() {
                                batch.record(lane.connection.post(prepare(index)), at: index)
                            }
                            continuation.resume()
                        }
                    }
                }
            }
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// The requests of one `post` call: which is next, and the answers so far.
private final class PostBatch: Sendable {
    private let state: Mutex<(next: Int, stopped: Bool, answers: [WebhookAnswer])>
    let count: Int

    init(count: Int) {
        self.count = count
        state = Mutex((0, false, [WebhookAnswer](repeating: .notAttempted, count: count)))
    }

    /// The next request's index; nil when every one is taken, or after `stop`.
    func take() -> Int? {
        state.withLock { state in
            guard !state.stopped, state.next < state.answers.count else { return nil }
            defer { state.next += 1 }
            return state.next
        }
    }

    func stop() { state.withLock { $0.stopped = true } }

    func record(_ answer: WebhookAnswer, at index: Int) { state.withLock { $0.answers[index] = answer } }

    var answers: [WebhookAnswer] { state.withLock { $0.answers } }
}

struct WebhookPosterError: Error, CustomStringConvertible {
    let description: String
}

private enum CurlHTTPGlobal {
    /// `curl_global_init`, once per process; harmless beside the SMTP transport's own call.
    static let initialization: CURLcode = listgate_curl_global_init_default()
}

/// Owns one easy handle. `@unchecked Sendable`: used only on its lane's serial queue.
private final class CurlHTTPConnection: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init(timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int) throws(WebhookPosterError) {
        guard CurlHTTPGlobal.initialization == CURLE_OK, let handle = curl_easy_init() else {
            throw WebhookPosterError(description: "libcurl could not create a handle")
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        var failure: String?
        func set(_ name: String, _ code: CURLcode) {
            if failure == nil, code != CURLE_OK { failure = "CURLOPT_\(name): \(String(cString: curl_easy_strerror(code)))" }
        }
        set("NOSIGNAL", listgate_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set("PROTOCOLS_STR", listgate_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        // A receiver's redirect is not followed: a 3xx is an answer, and not a 2xx.
        set("FOLLOWLOCATION", listgate_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set("TIMEOUT_MS", listgate_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        set("CONNECTTIMEOUT_MS", listgate_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds))
        set("POST", listgate_easy_setopt_long(handle, CURLOPT_POST, 1))
        set("USERAGENT", listgate_easy_setopt_string(handle, CURLOPT_USERAGENT, "listgate-webhooks/1"))
        set("ERRORBUFFER", listgate_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set("WRITEFUNCTION", listgate_easy_setopt_write_function(handle) { _, size, count, _ in size * count })
        if let failure {
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
            throw WebhookPosterError(description: "libcurl refused \(failure)")
        }
        self.handle = handle
        self.errorBuffer = errorBuffer
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    func post(_ request: WebhookRequest) -> WebhookAnswer {
        errorBuffer[0] = 0
        var headers: UnsafeMutablePointer<curl_slist>?
        // "Expect:" off: no 100-continue round trip before a small body.
        for header in request.headers + ["Expect:"] {
            guard let appended = curl_slist_append(headers, header) else {
                curl_slist_free_all(headers)
                return .noAnswer("libcurl could not allocate the headers")
            }
            headers = appended
        }
        defer { curl_slist_free_all(headers) }
        var setup = listgate_easy_setopt_string(handle, CURLOPT_URL, request.url)
        if setup == CURLE_OK { setup = listgate_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headers) }
        if setup == CURLE_OK { setup = listgate_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count) }
        guard setup == CURLE_OK else {
            _ = listgate_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
            return .noAnswer("libcurl refused the request: \(String(cString: curl_easy_strerror(setup)))")
        }
        let result = request.body.withUnsafeBytes { bytes in
            _ = listgate_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            defer { _ = listgate_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil) }
            return curl_easy_perform(handle)
        }
        // The list is freed on return: the handle must not keep pointing at it.
        _ = listgate_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        guard result == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(result))
            return .noAnswer("\(detail) (curl \(result.rawValue))")
        }
        var status = 0
        _ = listgate_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .status(status)
    }
}
