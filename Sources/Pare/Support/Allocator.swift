/// Process-wide allocator settings for numeric work.
public enum Allocator {
    /// glibc's `mallopt` (malloc.h, which no Swift module imports); parameters from malloc.h.
    @_silgen_name("mallopt") private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
    private static let trimThreshold: Int32 = -1   // M_TRIM_THRESHOLD
    private static let mmapThreshold: Int32 = -3   // M_MMAP_THRESHOLD

    /// glibc returns freed blocks above its mmap threshold (and the free top of its heap) to
    /// the kernel at once, so a forward pass that allocates and frees the same activation
    /// buffers block after block pays for fresh zeroed pages every time: about 8,600 page faults
    /// per forward at the default bench shape, 3 % of its time. Keeping blocks up to 256 MiB in
    /// the heap and 1 GiB of free heap before trimming makes those buffers reused instead.
    /// Weights above 256 MiB are still mapped and returned on free.
    public static func keepFreedBuffers() {
        #if os(Linux)
        _ = mallopt(mmapThreshold, 256 << 20)
        _ = mallopt(trimThreshold, 1 << 30)
        #endif
    }
}
