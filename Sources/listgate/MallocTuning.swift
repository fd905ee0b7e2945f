// Bulk commands (import, export) keep their peak memory small. glibc gives each thread
// that meets contention its own malloc arena, and each arena keeps its freed memory:
// with a parsing thread and SQLite's writer thread, that is megabytes of idle heap.
// Two arenas are plenty for two busy threads.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum MallocTuning {
    static func limitArenas(to count: Int32 = 2) {
        #if canImport(Glibc)
        // mallopt is not in Swift's Glibc module; look it up (RTLD_DEFAULT is null on glibc).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let arenaMax: Int32 = -8  // M_ARENA_MAX in <malloc.h>
        if let symbol = dlsym(nil, "mallopt") {
            _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMax, count)
        }
        #endif
    }
}
