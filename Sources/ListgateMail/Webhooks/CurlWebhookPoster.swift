// HTTP POSTs to one webhook receiver through libcurl. ListgateMail is listgate's outbound
// delivery target, mail and webhooks alike, and the only target that links libcurl
// (Package.swift); libcurl is already there for SMTP, so webhooks add no dependency, where
// AsyncHTTPClient would bring swift-nio-ssl and minutes of build for one POST.
//
// A receiver gets one thread of its own (not one of Swift's cooperative threads, which
// must never block) driving all of its connections through libcurl's multi interface, as
// wrk does with epoll: one blocking easy handle per lane cost a thread switch and a `poll`
// per POST, and those were a third of the CPU (docs/benchmarks.md, "bench/webhooks.sh").
// Its lanes are easy handles reused from POST to POST, so their connections stay open; a
// slow or dead receiver holds only its own thread and lanes. Redirects are never followed
// (a 3xx is a failed attempt), only http and https are spoken, certificates are verified,
// and the answer's body is dropped unread.
import CCurl
import Foundation
import ListgateCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The POST a lane sends next, rewritten in place for each delivery: once its buffers
/// have grown, a POST allocates nothing here.
struct WebhookRequest {
    var url = ""
    /// Header lines, `Name: value`, without CR LF.
    var headers: [[UInt8]] = []
    var body: [UInt8] = []

    /// Empties the body and `count` header lines, keeping their capacity.
    mutating func reset(headerCount count: Int) {
        body.removeAll(keepingCapacity: true)
        if headers.count != count {
            headers = [[UInt8]](repeating: [], count: count)
        }
        for index in headers.indices {
            headers[index].removeAll(keepingCapacity: true)
        }
    }
}

/// What came back: an HTTP status, or why none did.
enum WebhookAnswer: Sendable, Equatable {
    case status(Int)
    case noAnswer(String)
    /// Not sent: the worker was stopping.
    case notAttempted
}

/// The lanes of one receiver, and the thread that drives them.
final class CurlWebhookPoster: Sendable {
    private let driver: MultiDriver

    init(lanes count: Int, timeout: Duration, connectTimeout: Duration) throws(WebhookPosterError) {
        driver = try MultiDriver(
            lanes: max(1, count), timeoutMilliseconds: Self.milliseconds(timeout),
            connectTimeoutMilliseconds: Self.milliseconds(connectTimeout))
        let driver = driver
        let thread = Thread {
            #if canImport(Glibc)
            // Named from inside, through /proc (Foundation's `name` does not reach the
            // kernel here, and Glibc's pthread_setname_np is not imported), so `top -H`,
            // perf and bench/webhooks.sh find these threads; Linux keeps 15 bytes.
            if let comm = fopen("/proc/thread-self/comm", "w") {
                fputs("webhook-poster", comm)
                fclose(comm)
            }
            #endif
            driver.run()
        }
        thread.start()
    }

    deinit {
        // The thread ends once the POSTs under way are answered, and closes the lanes.
        driver.close()
    }

    /// Sends every request, each free lane taking the next unsent one, and returns the
    /// answers in the requests' order. `prepare` writes request `index` into a lane's
    /// buffers on the receiver's thread just before its POST. When the task is cancelled (the server stops), the POSTs under way finish and the
    /// rest are `notAttempted`.
    func post(count: Int, prepare: @escaping @Sendable (Int, inout WebhookRequest) -> Void) async -> [WebhookAnswer] {
        await submit(count: count, prepare: prepare).answers()
    }

    /// Queues the requests and returns at once, so the caller can claim the next batch and
    /// record the last while these are sent; the lanes go on to the next batch's requests
    /// as soon as this one's are all under way.
    func submit(count: Int, prepare: @escaping @Sendable (Int, inout WebhookRequest) -> Void) -> PostTicket {
        let job = PostJob(count: count, prepare: prepare)
        driver.submit(job)
        return PostTicket(job: job, driver: driver)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}

/// The answers to one `submit`, once they are all in.
struct PostTicket: Sendable {
    fileprivate let job: PostJob
    fileprivate let driver: MultiDriver

    var count: Int { job.count }

    /// When the task is cancelled, the POSTs under way finish and the rest are `notAttempted`.
    func answers() async -> [WebhookAnswer] {
        let job = job, driver = driver
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in job.handOver(to: continuation) }
        } onCancel: {
            job.stop()
            driver.wake()
        }
    }
}

struct WebhookPosterError: Error, CustomStringConvertible {
    let description: String
}

/// The requests of one `submit`. `@unchecked Sendable`: `stopped` is atomic and the
/// handover of the answers is locked; `next`, `inFlight` and `answers` are touched only on
/// the receiver's thread until the job is done.
private final class PostJob: @unchecked Sendable {
    let count: Int
    let prepare: @Sendable (Int, inout WebhookRequest) -> Void
    let stopped = Atomic<Bool>(false)
    var next = 0
    var inFlight = 0
    var answers: [WebhookAnswer]
    private let handover = Mutex<(done: [WebhookAnswer]?, waiting: CheckedContinuation<[WebhookAnswer], Never>?)>((nil, nil))

    init(count: Int, prepare: @escaping @Sendable (Int, inout WebhookRequest) -> Void) {
        self.count = count
        self.prepare = prepare
        answers = [WebhookAnswer](repeating: .notAttempted, count: count)
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Nothing more will be sent, and nothing is under way.
    var isDone: Bool { inFlight == 0 && (next == count || stopped.load(ordering: .relaxed)) }

    /// On the receiver's thread, once `isDone`: the answers go to whoever waits, now or later.
    func finish() {
        let answers = answers
        let waiting = handover.withLock { state in
            state.done = answers
            return state.waiting.take()
        }
        waiting?.resume(returning: answers)
    }

    func handOver(to continuation: CheckedContinuation<[WebhookAnswer], Never>) {
        let done = handover.withLock { state in
            if state.done == nil { state.waiting = continuation }
            return state.done
        }
        if let done { continuation.resume(returning: done) }
    }
}

private enum CurlHTTPGlobal {
    /// `curl_global_init`, once per process; harmless beside the SMTP transport's own call.
    static let initialization: CURLcode = listgate_curl_global_init_default()
}

/// One receiver's multi handle and lanes. `@unchecked Sendable`: `submit`, `wake` and
/// `close` may be called from anywhere (the inbox is locked, `curl_multi_wakeup` is
/// thread-safe); everything else runs on the receiver's thread, in `run`.
private final class MultiDriver: @unchecked Sendable {
    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex<(jobs: [PostJob], closing: Bool)>(([], false))
    private let lanes: [Lane]
    private var idle: [Lane]
    private var jobs: [PostJob] = []
    private var inFlight = 0

    init(lanes count: Int, timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int) throws(WebhookPosterError) {
        guard CurlHTTPGlobal.initialization == CURLE_OK, let multi = curl_multi_init() else {
            throw WebhookPosterError(description: "libcurl could not create a multi handle")
        }
        // The lanes are the only handles, so this is a ceiling they never reach; it holds
        // the connections to the receiver to the lanes even if that changes.
        _ = listgate_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, count)
        var lanes: [Lane] = []
        do {
            for _ in 0..<count {
                lanes.append(try Lane(timeoutMilliseconds: timeoutMilliseconds, connectTimeoutMilliseconds: connectTimeoutMilliseconds))
            }
        } catch {
            lanes.removeAll()
            curl_multi_cleanup(multi)
            throw error
        }
        self.multi = multi
        self.lanes = lanes
        idle = lanes
    }

    deinit {
        // After `run` returned (the thread holds this object until then): no handle is added.
        curl_multi_cleanup(multi)
    }

    func submit(_ job: PostJob) {
        inbox.withLock { $0.jobs.append(job) }
        wake()
    }

    func wake() { _ = curl_multi_wakeup(multi) }

    func close() {
        inbox.withLock { $0.closing = true }
        wake()
    }

    /// The receiver's thread: start POSTs on free lanes, let libcurl move every connection
    /// along, collect what finished, and sleep in `curl_multi_poll` until a socket, a timer
    /// or `wake` needs it.
    func run() {
        while true {
            let (arrived, closing) = inbox.withLock { state in
                defer { state.jobs.removeAll() }
                return (state.jobs, state.closing)
            }
            jobs.append(contentsOf: arrived)
            if closing {
                for job in jobs { job.stop() }
            }
            startPOSTs()
            finishJobs()
            if closing && inFlight == 0 { break }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            if collectAnswers() > 0 {
                continue  // a lane is free: start the next POST before sleeping
            }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        for job in jobs { job.finish() }
        jobs.removeAll()
    }

    private func startPOSTs() {
        var position = 0
        while !idle.isEmpty, position < jobs.count {
            let job = jobs[position]
            guard !job.stopped.load(ordering: .relaxed), job.next < job.count else {
                position += 1
                continue
            }
            let lane = idle.removeLast()
            let index = job.next
            job.next += 1
            job.prepare(index, &lane.request)
            if let failure = lane.stage() {
                job.answers[index] = .noAnswer(failure)
                idle.append(lane)
                continue
            }
            let added = curl_multi_add_handle(multi, lane.handle)
            guard added == CURLM_OK else {
                job.answers[index] = .noAnswer("libcurl could not start the POST: \(String(cString: curl_multi_strerror(added)))")
                idle.append(lane)
                continue
            }
            lane.job = job
            lane.index = index
            job.inFlight += 1
            inFlight += 1
        }
    }

    /// Every transfer libcurl reports done: its answer, and its lane free again.
    private func collectAnswers() -> Int {
        var finished = 0
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                  let lane = lanes.first(where: { $0.handle == handle })
            else { continue }
            let result = listgate_multi_message_result(message)
            _ = curl_multi_remove_handle(multi, handle)
            if let job = lane.job {
                job.answers[lane.index] = lane.answer(result)
                job.inFlight -= 1
            }
            lane.job = nil
            inFlight -= 1
            idle.append(lane)
            finished += 1
        }
        if finished > 0 { finishJobs() }
        return finished
    }

    private func finishJobs() {
        jobs.removeAll { job in
            guard job.isDone else { return false }
            job.finish()
            return true
        }
    }
}

/// One easy handle with the C copies of its request's headers and body, which libcurl
/// reads until the transfer is done. Used only on the receiver's thread.
private final class Lane {
    let handle: UnsafeMutableRawPointer
    var request = WebhookRequest()
    var job: PostJob?
    var index = 0
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The header lines as a `curl_slist` that is ours: its nodes and their text are
    /// rewritten for each POST instead of being allocated by `curl_slist_append`.
    private var nodes: [UnsafeMutablePointer<curl_slist>] = []
    private var lines: [UnsafeMutableBufferPointer<CChar>] = []
    private var body = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// The URL libcurl holds a copy of: set again only when it changes.
    private var url = ""

    init(timeoutMilliseconds: Int, connectTimeoutMilliseconds: Int) throws(WebhookPosterError) {
        guard let handle = curl_easy_init() else { throw WebhookPosterError(description: "libcurl could not create a handle") }
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
        for node in nodes { node.deallocate() }
        for line in lines { line.deallocate() }
        body.deallocate()
    }

    /// Copies `request` where libcurl will read it and points the handle at it; the
    /// reason when libcurl refused.
    func stage() -> String? {
        errorBuffer[0] = 0
        if request.url != url {
            let code = listgate_easy_setopt_string(handle, CURLOPT_URL, request.url)
            guard code == CURLE_OK else { return "libcurl refused the URL: \(String(cString: curl_easy_strerror(code)))" }
            url = request.url
        }
        // "Expect:" off: no 100-continue round trip before a small body.
        let count = request.headers.count + 1
        while nodes.count < count {
            let node = UnsafeMutablePointer<curl_slist>.allocate(capacity: 1)
            let line = UnsafeMutableBufferPointer<CChar>.allocate(capacity: 128)
            node.initialize(to: curl_slist(data: line.baseAddress, next: nil))
            nodes.append(node)
            lines.append(line)
        }
        for number in 0..<count {
            if number < request.headers.count {
                copy(request.headers[number], toLine: number)
            } else {
                copy(Self.expectOff, toLine: number)
            }
            nodes[number].pointee.next = number + 1 < count ? nodes[number + 1] : nil
        }
        if body.count < request.body.count {
            body.deallocate()
            body = .allocate(byteCount: max(request.body.count, 1024), alignment: 1)
        }
        request.body.withUnsafeBytes { bytes in
            if let source = bytes.baseAddress, let target = body.baseAddress { target.copyMemory(from: source, byteCount: bytes.count) }
        }
        var code = listgate_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, nodes[0])
        if code == CURLE_OK { code = listgate_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, request.body.count) }
        if code == CURLE_OK { code = listgate_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress) }
        guard code == CURLE_OK else { return "libcurl refused the request: \(String(cString: curl_easy_strerror(code)))" }
        return nil
    }

    private static let expectOff = Array("Expect:".utf8)

    private func copy(_ text: [UInt8], toLine number: Int) {
        if lines[number].count < text.count + 1 {
            lines[number].deallocate()
            lines[number] = .allocate(capacity: text.count + 1)
            nodes[number].pointee.data = lines[number].baseAddress
        }
        text.withUnsafeBufferPointer { source in
            if let from = source.baseAddress, let to = lines[number].baseAddress {
                UnsafeMutableRawPointer(to).copyMemory(from: from, byteCount: source.count)
            }
        }
        lines[number][text.count] = 0
    }

    func answer(_ result: CURLcode) -> WebhookAnswer {
        guard result == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(result))
            return .noAnswer("\(detail) (curl \(result.rawValue))")
        }
        var status = 0
        _ = listgate_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .status(status)
    }
}
