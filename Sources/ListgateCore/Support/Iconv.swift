// glibc's iconv, the one converter to UTF-8 that both the importer (Excel's CP932 files,
// streamed) and the mail reader (ISO-2022-JP, Shift_JIS and EUC-JP bodies and encoded
// words, whole) use, so both read Japanese legacy encodings the same way.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One iconv conversion to UTF-8, fed chunk by chunk: a character split between two
/// chunks is carried over to the next.
public final class IconvDecoder {
    private let descriptor: iconv_t
    /// The start of a character cut off at the end of the last chunk.
    private var carry: [UInt8] = []
    private var scratch = [UInt8](repeating: 0, count: 1 << 16)

    /// nil when this system cannot decode `encoding` (errno says why).
    public convenience init?(from encoding: String) {
        guard let descriptor = Self.open(from: encoding) else { return nil }
        self.init(descriptor: descriptor)
    }

    init(descriptor: iconv_t) {
        self.descriptor = descriptor
    }

    static func open(from encoding: String) -> iconv_t? {
        let opened = iconv_open("UTF-8", encoding)
        guard let opened, opened != iconv_t(bitPattern: -1) else { return nil }
        return opened
    }

    deinit { iconv_close(descriptor) }

    /// `bytes` in `encoding` as a String; nil for an encoding this system lacks, a byte
    /// sequence that is not in it, or input that ends inside a character.
    public static func decode(_ bytes: some Collection<UInt8>, from encoding: String) -> String? {
        IconvDecoder(from: encoding)?.decodeWhole(bytes)
    }

    /// `bytes`, a whole text on its own, as a String; nil as for `decode(_:from:)`. The
    /// converter is reset first, so one converter can decode many texts in turn without
    /// opening a new one (iconv_open) for each.
    public func decodeWhole(_ bytes: some Collection<UInt8>) -> String? {
        reset()
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3 / 2)
        let converted = bytes.withContiguousStorageIfAvailable { buffer in
            convert(buffer) { output.append(contentsOf: $0) }
        } ?? Array(bytes).withUnsafeBufferPointer { buffer in
            convert(buffer) { output.append(contentsOf: $0) }
        }
        guard converted, finish() else { return nil }
        return String(validating: output, as: UTF8.self)
    }

    /// Back to the initial shift state, with nothing carried over.
    public func reset() {
        carry.removeAll(keepingCapacity: true)
        _ = iconv(descriptor, nil, nil, nil, nil)
    }

    /// Converts `input` (after any carried bytes) and hands each piece of UTF-8 to `sink`;
    /// false at the first byte sequence that is not in the encoding.
    public func convert(_ input: UnsafeBufferPointer<UInt8>, sink: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
        var bytes = carry
        bytes.append(contentsOf: input)
        carry.removeAll(keepingCapacity: true)
        return bytes.withUnsafeMutableBufferPointer { all -> Bool in
            guard let base = all.baseAddress else { return true }
            var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(base).assumingMemoryBound(to: CChar.self)
            var inLeft = all.count
            while inLeft > 0 {
                let produced = scratch.withUnsafeMutableBufferPointer { out -> (Int, Int32) in
                    var outPointer: UnsafeMutablePointer<CChar>? =
                        UnsafeMutableRawPointer(out.baseAddress!).assumingMemoryBound(to: CChar.self)
                    var outLeft = out.count
                    let result = iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft)
                    let failure: Int32 = result == -1 ? errno : 0
                    sink(UnsafeBufferPointer(rebasing: out[..<(out.count - outLeft)]))
                    return (out.count - outLeft, failure)
                }
                switch produced.1 {
                case 0, E2BIG: continue
                case EINVAL:
                    // An incomplete character at the end: keep it for the next chunk.
                    carry = Array(UnsafeBufferPointer(start: UnsafeRawPointer(inPointer!).assumingMemoryBound(to: UInt8.self), count: inLeft))
                    return true
                default:
                    return false
                }
            }
            return true
        }
    }

    public func validate(_ input: UnsafeBufferPointer<UInt8>) -> Bool {
        convert(input, sink: { _ in })
    }

    /// True when the input did not end in the middle of a character.
    public func finish() -> Bool { carry.isEmpty }
}
