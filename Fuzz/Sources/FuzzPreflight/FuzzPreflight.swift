// libFuzzer target: the reader and the guard on arbitrary octets, as the preflight gets
// them from anyone. Whatever the input, reading it must end (no crash, no hang), the
// guard's verdict must be the reader's failure when it fails, no reason may repeat an
// address, the guard's findings must count no more places than it names, and the sender
// identity check must find a part's opening however it is spaced.
import FuzzDriver
import Foundation
import ListgateCore
@testable import ListgateMail

let contentGuard = ContentGuard(
    recipient: try! EmailAddress("taro@example.jp"),
    allowed: [try! EmailAddress("news@example.org"), try! EmailAddress("help@example.org")])

@main
enum Fuzz {
    static func main() { runFuzzer(fuzzPreflight) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPreflight(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    let verdict = contentGuard.check(raw)
    if case .fail(let reason) = verdict, reason.contains("@") || reason.contains("＠") {
        fatalError("a reason repeats an address: \(reason)")
    }
    let reading: MessageReading
    do {
        reading = try MessageReading.read(raw)
    } catch {
        guard verdict == .fail(reason: error.reason) else {
            fatalError("the reader failed (\(error.reason)) but the guard said \(verdict)")
        }
        return 0
    }
    if let findings = try? contentGuard.findings(in: reading) {
        for place in findings.tally.places where findings.tally.count(at: place) == 0 {
            fatalError("\(place.phrase) is named with no address in it")
        }
    }
    let parts = reading.texts.compactMap { text -> (mediaType: String, text: String)? in
        guard case .part(_, let mediaType) = text.place else { return nil }
        return (mediaType, text.text)
    }
    let check = SenderIdentityCheck(parts: parts)
    for part in parts where part.mediaType != "text/html" {
        // The part's opening, cut before an ASCII scalar (so that nothing after the cut
        // can compose with it) and spaced out: found through the normalisation alone.
        let scalars = Array(part.text.unicodeScalars.prefix(25))
        guard scalars.count == 25, scalars[24].isASCII else { continue }
        let phrase = scalars.dropLast().map { String($0) }.joined(separator: " ")
        guard check.shows(phrase) else { fatalError("a part's own opening is not shown: \(scalars.map(\.value))") }
    }
    _ = check.shows("株式会社サンプル")
    _ = check.links(to: "/unsubscribe/token")
    return 0
}
