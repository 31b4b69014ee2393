import Foundation

/// Peak resident memory of this process (VmHWM from /proc/self/status), in MiB; nil where unavailable.
public func peakResidentMemoryMiB() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first
        return kb.map { $0 / 1024 }
    }
    return nil
}
