import ListgateMail
import Testing

@Suite("libcurl")
struct CurlCapabilitiesTests {
    @Test("the linked libcurl speaks smtp and smtps")
    func speaksSMTP() {
        let curl = CurlCapabilities.linked
        #expect(curl.speaksSMTP, "libcurl \(curl.version) protocols: \(curl.protocols.sorted())")
        #expect(curl.version.first?.isNumber == true)
    }
}
