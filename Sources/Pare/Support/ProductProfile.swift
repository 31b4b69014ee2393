import Glibc
import Synchronization

/// CPU time spent in matrix products (OpenBLAS calls and Pare's dense and sparse kernels),
/// for `pare bench generate`'s split of a decoding step into products and the rest.
///
/// Off by default; then a product costs one relaxed load more.
public enum ProductProfile {
    public static let enabled = Atomic<Bool>(false)
    /// Thread CPU time inside products while `enabled` was set, summed over threads.
    public static let nanoseconds = Atomic<UInt64>(0)

    /// Runs `call` and, when enabled, adds the CPU time its thread spent in it (thread CPU
    /// time, not wall time: on a busy machine a call's wall time also counts the time its
    /// thread waited for a core).
    @inline(__always)
    static func timed(_ call: () -> Void) {
        guard enabled.load(ordering: .relaxed) else { call(); return }
        let t0 = threadCPUNanoseconds()
        call()
        nanoseconds.add(threadCPUNanoseconds() - t0, ordering: .relaxed)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the calling thread in nanoseconds.
func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the whole process (every thread, user + system) in nanoseconds.
public func processCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
