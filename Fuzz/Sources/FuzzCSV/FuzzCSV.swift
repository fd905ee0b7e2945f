// libFuzzer target: the CSV reader behind `listgate import`. Whatever the bytes, reading
// must not crash or loop; line numbers only grow and stay within the input's lines; and
// what is read must not depend on where the input's chunks happen to end (the reader
// refills a window, and a record split across a refill must read exactly as a whole one).
import FuzzDriver
import ListgateCore

@main
enum Fuzz {
    static func main() { runFuzzer(fuzzCSV) }
}

struct Reading: Equatable {
    var items: [CSVReader.Item] = []
    var fields: [[String?]] = []
}

func read(_ bytes: [UInt8], chunkSize: Int) -> Reading {
    let reader = CSVReader(source: InMemoryByteSource(bytes, chunkSize: chunkSize), chunkSize: chunkSize, maxRecordBytes: 4096)
    var reading = Reading()
    while let item = try? reader.next() {
        reading.items.append(item)
        if case .record = item { reading.fields.append((0..<reader.fieldCount).map(reader.string)) }
        if reading.items.count > bytes.count + 2 { fail("more items than bytes: the reader is looping", String(decoding: bytes, as: UTF8.self)) }
    }
    return reading
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    let whole = read(bytes, chunkSize: 1 << 20)
    // The smallest window the reader allows, and one that ends mid-UTF-8 more often.
    for chunkSize in [16, 17] where read(bytes, chunkSize: chunkSize) != whole {
        fail("reading in \(chunkSize)-byte chunks differs from reading whole", text)
    }
    let lines = bytes.reduce(1) { $0 + ($1 == 0x0A || $1 == 0x0D ? 1 : 0) }
    var previous = 0
    for item in whole.items {
        let line: Int
        switch item {
        case .record(let number): line = number
        case .problem(let number, _): line = number
        }
        guard line >= 1, line <= lines, line >= previous else { fail("line \(line) after \(previous) of \(lines)", text) }
        previous = line
    }
    return 0
}

func fail(_ message: String, _ input: String) -> Never {
    fatalError("FuzzCSV: \(message); input: \(input.debugDescription)")
}
