// One HTTP GET through libcurl, for the provider webhooks' few outside reads (the SNS
// signing certificate, the SNS subscription confirmation). It lives here because this is
// the one target that links libcurl (docs/design.md, "Rooms and their arrows"); the
// server holds it as the core's `URLFetching`. It follows no redirect (a redirect could
// lead past the host rule the caller checked), speaks only http and https, verifies
// certificates, and bounds the time and the size of what it reads.
import CCurl
import Dispatch
import ListgateCore

public struct URLFetchError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

public struct CurlURLFetch: URLFetching {
    public let timeoutMilliseconds: Int
    public let maximumBytes: Int

    /// Defaults: 10 s for the whole transfer, 64 KiB (an SNS certificate is ~2 KB; a
    /// confirmation answer a few hundred bytes).
    public init(timeoutMilliseconds: Int = 10_000, maximumBytes: Int = 64 * 1024) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maximumBytes = maximumBytes
    }

    public func get(_ url: String) async throws -> FetchedDocument {
        let timeout = timeoutMilliseconds, limit = maximumBytes
        // curl_easy_perform blocks for the whole transfer: off the cooperative pool.
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<FetchedDocument, URLFetchError>, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.perform(url, timeoutMilliseconds: timeout, maximumBytes: limit))
            }
        }
        return try outcome.get()
    }

    /// What the write callback fills: the body so far, and whether it passed the limit.
    private final class Body {
        var bytes: [UInt8] = []
        var tooLarge = false
        let limit: Int
        init(limit: Int) { self.limit = limit }
    }

    private static func perform(_ url: String, timeoutMilliseconds: Int, maximumBytes: Int) -> Result<FetchedDocument, URLFetchError> {
        guard CurlGlobal.initialization == CURLE_OK else { return .failure(URLFetchError("libcurl failed to initialise")) }
        guard let handle = curl_easy_init() else { return .failure(URLFetchError("libcurl could not create a handle")) }
        defer { curl_easy_cleanup(handle) }
        let body = Body(limit: maximumBytes)
        var setup = CURLE_OK
        func set(_ code: CURLcode) { if setup == CURLE_OK { setup = code } }
        set(listgate_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(listgate_easy_setopt_string(handle, CURLOPT_URL, url))
        set(listgate_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(listgate_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(listgate_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMilliseconds, 5_000)))
        set(listgate_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        // A declared length over the limit stops the transfer before the body.
        set(listgate_easy_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maximumBytes)))
        set(listgate_easy_setopt_write_function(handle) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let body = Unmanaged<Body>.fromOpaque(userdata).takeUnretainedValue()
            let length = size * count
            guard body.bytes.count + length <= body.limit else {
                body.tooLarge = true
                return 0  // libcurl ends the transfer with CURLE_WRITE_ERROR
            }
            if let data { body.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
            return length
        })
        guard setup == CURLE_OK else { return .failure(URLFetchError("libcurl refused an option: \(text(of: setup))")) }
        let result = withExtendedLifetime(body) {
            _ = listgate_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(body).toOpaque())
            return curl_easy_perform(handle)
        }
        if body.tooLarge || result == CURLE_FILESIZE_EXCEEDED {
            return .failure(URLFetchError("the answer is larger than \(maximumBytes) bytes"))
        }
        guard result == CURLE_OK else { return .failure(URLFetchError(text(of: result))) }
        var status = 0
        _ = listgate_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(FetchedDocument(status: status, body: body.bytes))
    }

    private static func text(of code: CURLcode) -> String {
        "curl \(code.rawValue): " + String(cString: curl_easy_strerror(code))
    }
}
