// ListgateMail: everything that turns a queued message into bytes on the wire.
// It is the only module that links libcurl. (Built out by the mail-delivery issue.)
import CCurl

/// What the linked libcurl can do; checked at start-up so a libcurl built without
/// SMTP fails loudly instead of at the first confirmation mail.
public struct CurlCapabilities: Sendable {
    public let version: String
    public let protocols: Set<String>

    public static var linked: CurlCapabilities {
        let info = listgate_curl_version_info().pointee
        var protocols = Set<String>()
        var cursor = info.protocols
        while let entry = cursor?.pointee {
            protocols.insert(String(cString: entry))
            cursor = cursor?.advanced(by: 1)
        }
        return CurlCapabilities(version: String(cString: info.version), protocols: protocols)
    }

    public var speaksSMTP: Bool { protocols.contains("smtp") && protocols.contains("smtps") }
}
