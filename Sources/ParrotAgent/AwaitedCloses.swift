import ParrotServices

/// Closes under way on watched descriptors (WatchedCloses), by the copy they
/// close, and how the write-back of each such copy went, kept until its close
/// takes the answer: another stop may settle the copy first.
struct AwaitedCloses {
    private var awaited: [String: Int] = [:]
    private var outcomes: [String: ServiceError?] = [:]

    mutating func expect(_ copy: String) {
        awaited[copy, default: 0] += 1
    }

    /// A write-back of `copy` ended (nil: it went back); kept only if a close waits.
    mutating func record(_ copy: String, _ failure: ServiceError?) {
        if awaited[copy] != nil { outcomes[copy] = .some(failure) }
    }

    /// The close of `copy` returns: the failure it must report, if any.
    mutating func take(_ copy: String) -> ServiceError? {
        let waiting = (awaited[copy] ?? 1) - 1
        awaited[copy] = waiting > 0 ? waiting : nil
        return outcomes.removeValue(forKey: copy) ?? nil
    }

    /// A new round of opens: an answer no close took (its task died) is stale.
    mutating func forget(_ copy: String) {
        outcomes.removeValue(forKey: copy)
    }
}
