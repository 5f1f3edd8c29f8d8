#if canImport(Glibc)
import Glibc
#endif

/// A point on the monotonic clock, so that waits are bounded however the
/// wall clock moves.
public struct Deadline: Comparable, Sendable {
    public let nanoseconds: UInt64

    public static var now: Deadline {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Deadline(nanoseconds: UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec))
    }

    /// The same clock read at tick resolution (a few ms), without reading
    /// the cycle counter: for timestamps taken on every request and compared
    /// with thresholds of a second or so.
    public static var coarseNow: Deadline {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return Deadline(nanoseconds: UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec))
    }

    public static func after(seconds: Double) -> Deadline { now.adding(seconds: seconds) }

    /// `seconds` later; the end of time for infinity (-S) or anything too far to count.
    public func adding(seconds: Double) -> Deadline {
        guard seconds < 1e9 else { return Deadline(nanoseconds: .max) }
        return Deadline(nanoseconds: nanoseconds + UInt64(max(0, seconds) * 1e9))
    }

    public var hasPassed: Bool { Deadline.now >= self }

    public var secondsLeft: Double {
        let current = Deadline.now.nanoseconds
        return nanoseconds > current ? Double(nanoseconds - current) / 1e9 : 0
    }

    /// What is left, for poll(2): at least 0, rounded up so a wait never ends early.
    public var pollMilliseconds: Int32 {
        Int32(min(Double(Int32.max), (secondsLeft * 1000).rounded(.up)))
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}
