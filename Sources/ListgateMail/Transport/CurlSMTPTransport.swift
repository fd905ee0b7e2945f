// SMTP delivery through libcurl, one message per transfer, over a small fixed number
// of kept-open connections (one by default).
//
// Threading: each easy handle belongs to a CurlSMTPConnection that is only ever touched
// on its own serial DispatchQueue (a "lane"), so `curl_easy_perform` (which blocks for
// the whole SMTP dialogue) never runs on Swift's cooperative pool, and concurrent
// `send` calls queue up on a lane instead of racing for a handle. Lanes are taken in
// turn; whatever the number of lanes, every transfer has exactly one RCPT TO.
import CCurl
import Dispatch
import ListgateCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class CurlSMTPTransport: MailTransport {
    public let endpoint: SMTPEndpoint
    public let connectTimeout: Duration
    public let timeout: Duration
    private let lanes: [Lane]
    private let nextLane = Mutex(0)

    /// One connection and the serial queue it is used on.
    private struct Lane {
        let connection: CurlSMTPConnection
        let queue: DispatchQueue
    }

    /// - Parameters:
    ///   - username, password: for SMTP AUTH; nil or empty means no AUTH.
    ///   - connectTimeout: how long establishing the TCP (and TLS) connection may take.
    ///   - timeout: how long one whole delivery may take, connection included.
    ///   - connections: how many SMTP connections may be open at once (at least 1).
    public init(
        endpoint: SMTPEndpoint,
        username: String? = nil,
        password: String? = nil,
        connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(60),
        connections: Int = 1
    ) throws(TransportConfigurationError) {
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        var lanes: [Lane] = []
        for index in 0..<max(1, connections) {
            lanes.append(Lane(
                connection: try CurlSMTPConnection(
                    endpoint: endpoint,
                    username: username.flatMap { $0.isEmpty ? nil : $0 },
                    password: password.flatMap { $0.isEmpty ? nil : $0 },
                    connectTimeoutMilliseconds: Self.milliseconds(connectTimeout),
                    timeoutMilliseconds: Self.milliseconds(timeout)),
                queue: DispatchQueue(label: "listgate.smtp.\(endpoint.host):\(endpoint.port).\(index)")))
        }
        self.lanes = lanes
    }

    /// `url` must be an `smtp://` or `smtps://` URL (see `TransportConfiguration`);
    /// `tls` nil: `SMTPTLSMode.defaultMode`, so credentials alone make TLS required.
    public convenience init(
        url: String,
        username: String? = nil,
        password: String? = nil,
        tls: SMTPTLSMode? = nil,
        connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(60),
        connections: Int = 1
    ) throws(TransportConfigurationError) {
        let mode = tls ?? .defaultMode(username: username, password: password)
        guard case .smtp(let endpoint) = try TransportConfiguration(url: url, tls: mode) else {
            throw TransportConfigurationError(url: url, reason: "an SMTP transport needs an smtp:// or smtps:// URL")
        }
        try self.init(endpoint: endpoint, username: username, password: password,
                      connectTimeout: connectTimeout, timeout: timeout, connections: connections)
    }

    deinit {
        // curl_easy_cleanup says QUIT and waits for the reply: let it happen on the
        // transport's queue (after any queued delivery), not on whichever thread,
        // possibly a cooperative one, drops the last reference.
        for lane in lanes {
            let connection = lane.connection
            lane.queue.async { withExtendedLifetime(connection) {} }
        }
    }

    public func send(_ message: [UInt8], from sender: EmailAddress, to recipient: Recipient) async throws(DeliveryError) {
        try await send(message, from: sender, to: recipient, whenAccepted: {})
    }

    public func send(
        _ message: [UInt8], from sender: EmailAddress, to recipient: Recipient, whenAccepted accepted: @escaping @Sendable () -> Void
    ) async throws(DeliveryError) {
        let lane = lanes[nextLane.withLock { next in
            defer { next = (next + 1) % lanes.count }
            return next
        }]
        let connection = lane.connection
        let reversePath = sender.smtpPath
        let forwardPath = recipient.path
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, DeliveryError>, Never>) in
            lane.queue.async {
                let outcome = connection.deliver(message, from: reversePath, to: forwardPath)
                // On the lane, before the task resumes: a resumed task may wait for a
                // thread of the cooperative pool, and a crash in that wait must not forget it.
                if case .success = outcome { accepted() }
                continuation.resume(returning: outcome)
            }
        }
        try outcome.get()
    }

    /// libcurl reads 0 as "no timeout", so anything positive rounds up to at least 1 ms.
    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 1 }
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Int.max }
        return max(1, Int(whole) + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000))
    }
}

// MARK: - libcurl

enum CurlGlobal {
    /// `curl_global_init`, exactly once per process (Swift runs a static initialiser once),
    /// for the SMTP transport and the URL fetch (CurlURLFetch.swift) alike.
    static let initialization: CURLcode = listgate_curl_global_init_default()
}

/// The upload source that CURLOPT_READFUNCTION reads: the unread rest of the message.
private struct UploadCursor {
    var next: UnsafeRawPointer?
    var remaining: Int
}

/// Owns one libcurl easy handle and, through libcurl's connection cache, the SMTP
/// connection it keeps open between transfers.
///
/// `@unchecked Sendable`: every method and the deinit run on the owning
/// CurlSMTPTransport's serial queue (see its `send` and deinit); the libcurl callbacks
/// run inside `curl_easy_perform`, hence on that queue too.
private final class CurlSMTPConnection: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer
    private let endpoint: String
    /// CURLOPT_ERRORBUFFER: libcurl writes its detailed message here on failure.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// From the debug callback, for error messages: the last line the server sent in
    /// this transfer, and the last 4xx/5xx line ("550 5.1.1 no such user"), which the
    /// "221 Bye" libcurl's QUIT gets after a failure must not hide.
    private var lastReply: [UInt8] = []
    private var lastFailureReply: [UInt8] = []
    /// After a failed transfer the next one opens a new connection, whatever state
    /// the old one was left in.
    private var needsFreshConnection = false

    init(
        endpoint: SMTPEndpoint,
        username: String?,
        password: String?,
        connectTimeoutMilliseconds: Int,
        timeoutMilliseconds: Int
    ) throws(TransportConfigurationError) {
        let initialization = CurlGlobal.initialization
        guard initialization == CURLE_OK else {
            throw TransportConfigurationError(url: endpoint.url, reason: "libcurl failed to initialise: \(Self.text(of: initialization))")
        }
        guard let handle = curl_easy_init() else {
            throw TransportConfigurationError(url: endpoint.url, reason: "libcurl could not create a handle")
        }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))

        var failure: (option: String, code: CURLcode)?
        func set(_ name: String, _ code: CURLcode) {
            if failure == nil, code != CURLE_OK { failure = (name, code) }
        }
        set("NOSIGNAL", listgate_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set("URL", listgate_easy_setopt_string(handle, CURLOPT_URL, endpoint.url))
        switch endpoint.security {
        case .startTLSRequired: set("USE_SSL", listgate_easy_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
        case .startTLSIfOffered: set("USE_SSL", listgate_easy_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue)))
        case .plain: set("USE_SSL", listgate_easy_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue)))
        case .implicitTLS: break  // the smtps:// scheme alone makes libcurl speak TLS first
        }
        if let username { set("USERNAME", listgate_easy_setopt_string(handle, CURLOPT_USERNAME, username)) }
        if let password { set("PASSWORD", listgate_easy_setopt_string(handle, CURLOPT_PASSWORD, password)) }
        set("CONNECTTIMEOUT_MS", listgate_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds))
        set("TIMEOUT_MS", listgate_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        // One server, one connection: a replaced connection is closed, not cached.
        set("MAXCONNECTS", listgate_easy_setopt_long(handle, CURLOPT_MAXCONNECTS, 1))
        set("UPLOAD", listgate_easy_setopt_long(handle, CURLOPT_UPLOAD, 1))
        set("READFUNCTION", listgate_easy_setopt_read_function(handle) { buffer, size, count, userdata in
            guard let buffer, let cursor = userdata?.assumingMemoryBound(to: UploadCursor.self),
                  let next = cursor.pointee.next else { return 0 }
            let length = min(size * count, cursor.pointee.remaining)
            UnsafeMutableRawPointer(buffer).copyMemory(from: next, byteCount: length)
            cursor.pointee.next = next + length
            cursor.pointee.remaining -= length
            return length
        })
        set("ERRORBUFFER", listgate_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        // Verbose mode only feeds the debug callback below, which keeps the server's
        // last reply line; nothing is printed.
        set("VERBOSE", listgate_easy_setopt_long(handle, CURLOPT_VERBOSE, 1))
        set("DEBUGFUNCTION", listgate_easy_setopt_debug_function(handle) { _, type, data, size, userdata in
            guard type == CURLINFO_HEADER_IN, let data, let userdata else { return 0 }
            let connection = Unmanaged<CurlSMTPConnection>.fromOpaque(userdata).takeUnretainedValue()
            connection.recordReply(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
        if let failure {
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
            throw TransportConfigurationError(
                url: endpoint.url,
                reason: "libcurl refused CURLOPT_\(failure.option): \(Self.text(of: failure.code))"
            )
        }
        self.handle = handle
        self.endpoint = endpoint.url
        self.errorBuffer = errorBuffer
        lastReply.reserveCapacity(512)
        lastFailureReply.reserveCapacity(512)
        // Cannot fail: a plain pointer option. Points at self, which owns the handle.
        _ = listgate_easy_setopt_pointer(handle, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// One SMTP transaction: MAIL FROM:<from>, RCPT TO:<to>, DATA. libcurl dot-stuffs
    /// the message and ends it with CRLF "." CRLF (adding a CRLF if the message lacks one).
    func deliver(_ message: [UInt8], from reversePath: String, to forwardPath: String) -> Result<Void, DeliveryError> {
        errorBuffer[0] = 0
        lastReply.removeAll(keepingCapacity: true)
        lastFailureReply.removeAll(keepingCapacity: true)
        guard let recipients = curl_slist_append(nil, "<" + forwardPath + ">") else {
            return .failure(.transient("\(endpoint): libcurl could not allocate the recipient list"))
        }
        defer { curl_slist_free_all(recipients) }

        var setup = listgate_easy_setopt_string(handle, CURLOPT_MAIL_FROM, "<" + reversePath + ">")
        if setup == CURLE_OK { setup = listgate_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients) }
        // Lets libcurl announce SIZE= when the server supports it.
        if setup == CURLE_OK { setup = listgate_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.count)) }
        let fresh = needsFreshConnection
        if setup == CURLE_OK, fresh { setup = listgate_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1) }
        guard setup == CURLE_OK else {
            _ = listgate_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, nil)
            return .failure(.transient("\(endpoint): libcurl refused the envelope: \(Self.text(of: setup))"))
        }

        let result = message.withUnsafeBytes { bytes in
            var cursor = UploadCursor(next: bytes.baseAddress, remaining: bytes.count)
            return withUnsafeMutablePointer(to: &cursor) { cursor in
                _ = listgate_easy_setopt_pointer(handle, CURLOPT_READDATA, cursor)
                defer { _ = listgate_easy_setopt_pointer(handle, CURLOPT_READDATA, nil) }
                return curl_easy_perform(handle)
            }
        }
        // The list is freed on return: the handle must not keep pointing at it.
        _ = listgate_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, nil)
        if fresh { _ = listgate_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, 0) }
        guard result != CURLE_OK else {
            needsFreshConnection = false
            return .success(())
        }
        let error = classify(result)
        abandonConnection()
        needsFreshConnection = true
        return .failure(error)
    }

    /// After a failure, make sure the connection is never used again and is dropped
    /// without ceremony. libcurl 7.88 closes it itself after an SMTP error reply, but
    /// keeps it cached after a timeout waiting for the reply to the final "."; reusing
    /// it would read that late reply as the answer to the next MAIL FROM, and replacing
    /// it makes libcurl send QUIT and wait for the still-busy server. A shut-down socket
    /// is one libcurl sees as dead and discards at once.
    private func abandonConnection() {
        var socket = curl_socket_t(-1)  // CURL_SOCKET_BAD
        // ACTIVESOCKET answers -1 once libcurl has closed the connection, so this never
        // touches a descriptor number that has been reused for something else.
        guard listgate_easy_getinfo_socket(handle, CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK,
              socket >= 0 else { return }
        _ = shutdown(socket, Int32(SHUT_RDWR))
    }

    /// 5xx → permanent, everything else (4xx, network, TLS, timeouts, unknown) → transient.
    /// Exception: a refused AUTH (535) is about our credentials, not this message, so it
    /// is transient: the mail goes out once the configuration is fixed. Addresses in the
    /// text are redacted (SMTPReply).
    private func classify(_ result: CURLcode) -> DeliveryError {
        var responseCode = 0
        _ = listgate_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &responseCode)
        let curlDetail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : Self.text(of: result)
        var message = "\(endpoint): "
        if result == CURLE_USE_SSL_FAILED {
            // Our own refusal, before AUTH and MAIL FROM: say what to change.
            message += "the server does not offer STARTTLS and TLS is required, so nothing was sent "
            message += "(LISTGATE_SMTP_TLS=require, the default with SMTP credentials; curl \(result.rawValue): \(curlDetail))"
        } else if responseCode >= 400 {
            let failure = String(decoding: lastFailureReply, as: UTF8.self)
            let reply = failure.hasPrefix(String(responseCode)) ? failure : String(responseCode)
            message += "SMTP \"\(reply)\" (curl \(result.rawValue): \(curlDetail))"
        } else {
            let reply = String(decoding: lastReply, as: UTF8.self)
            message += "\(curlDetail) (curl \(result.rawValue)"
            message += reply.isEmpty ? ")" : "; last SMTP reply \"\(reply)\")"
        }
        // Servers quote the refused address in their reply; this text is logged and stored.
        message = SMTPReply.redacted(message)
        let permanent = (500..<600).contains(responseCode) && result != CURLE_LOGIN_DENIED
        return permanent ? .permanent(message) : .transient(message)
    }

    /// Called by the debug callback for every line the server sends.
    private func recordReply(_ bytes: UnsafeRawBufferPointer) {
        var line = bytes[...]
        while let last = line.last, last == 0x0A || last == 0x0D { line = line.dropLast() }
        guard let first = line.first else { return }
        line = line.prefix(400)
        lastReply.removeAll(keepingCapacity: true)
        lastReply.append(contentsOf: line)
        if first == UInt8(ascii: "4") || first == UInt8(ascii: "5") {
            lastFailureReply.removeAll(keepingCapacity: true)
            lastFailureReply.append(contentsOf: line)
        }
    }

    private static func text(of code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}
