import Foundation

/// Monotonic nanoseconds (CLOCK_MONOTONIC): every latency and schedule in the load generator uses this one clock.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
