/// Where a scan stopped, carried from one chunk to the next.
struct ScanState: Sendable {
    /// The automaton state after the last byte read.
    var node: UInt32 = 0
    /// Whether the scan is in the prefilter loop (the automaton is then at its root).
    var skipping = true
    /// Where the prefilter last handed over to the automaton.
    var anchor = 0
    /// The best match found and not yet final: a longer one may start at the same place, or
    /// one may start earlier, until the automaton no longer reaches back to its start.
    var candidate: FoundMatch?
}

/// A match chosen for replacement: `start..<end` in the scanned buffer, and its secret's index.
struct FoundMatch: Sendable {
    var start: Int
    var end: Int
    var secret: Int
}

extension AutomatonView {
    /// The longest live suffix the scan hands back to the prefilter (and so reads again).
    static let rewindLimit = 8

    /// Reads `bytes[start...]`, appending to `matches` every match that has become final, leftmost
    /// first, never overlapping.
    ///
    /// Leftmost-longest, as a left-to-right replace would choose: among the matches the earliest
    /// start wins, and among those the longest. The automaton reports at each byte the longest
    /// pattern ending there; that becomes the candidate when it starts earlier than the current
    /// one (or at the same place, so it is longer). The candidate is final once the longest
    /// suffix of the input that may still grow into a pattern starts after it: no later match
    /// can then start at or before it. Scanning then resumes right after the
    /// candidate, from the root, so matches never overlap; the few bytes between the end of the
    /// candidate and the current position are read again.
    ///
    /// Outside of possible matches the prefilter loop runs instead of the automaton (see
    /// ``skip(_:from:count:)``), and the automaton starts, at its root, only where a pattern may
    /// begin (the anchor). As soon as no pattern can start at the anchor
    /// any more, the prefilter takes over again from the start of the automaton's live suffix
    /// (no match can start before it). That rereads a few bytes, so it is done only when the live
    /// suffix is at most ``rewindLimit`` long: the work stays linear in the input, and most of the
    /// input is only ever seen by the prefilter.
    ///
    /// - Parameters:
    ///   - bytes: The buffer; `state` describes `bytes[..<start]`.
    ///   - endOfInput: `true` when no byte follows: the last candidate is then final.
    func scan(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        state: inout ScanState,
        endOfInput: Bool,
        matches: inout [FoundMatch]
    ) {
        let count = bytes.count
        guard let base = bytes.baseAddress else {
            if endOfInput, let candidate = state.candidate { matches.append(candidate) }
            if endOfInput { state = ScanState() }
            return
        }
        var position = start
        var node = state.node
        var skipping = state.skipping
        var candidate = state.candidate
        var anchor = state.anchor
        while true {
            if var current = candidate {
                var final = position &- liveLength(node) > current.start
                while !final && position < count {
                    node = step(node, base.load(fromByteOffset: position, as: UInt8.self))
                    position &+= 1
                    if isMatch(node) {
                        let found = match(node)
                        if position &- found.length <= current.start {
                            current = FoundMatch(start: position &- found.length, end: position, secret: found.secret)
                        }
                    }
                    final = position &- liveLength(node) > current.start
                }
                if final || endOfInput {
                    matches.append(current)
                    position = current.end
                    node = 0
                    skipping = true
                    candidate = nil
                    continue
                }
                candidate = current
                break
            }
            if skipping {
                position = skip(base, from: position, count: count)
                anchor = position
                skipping = false
            }
            var special = false
            while position < count {
                node = step(node, base.load(fromByteOffset: position, as: UInt8.self))
                position &+= 1
                if isMatch(node) {
                    special = true
                    break
                }
                // No match can start at the anchor any more: hand back to the prefilter from
                // where the live suffix starts, unless that means reading many bytes again.
                let live = liveLength(node)
                if position &- live > anchor && live <= Self.rewindLimit {
                    position &-= live
                    node = 0
                    skipping = true
                    special = true
                    break
                }
            }
            guard special else { break }
            if skipping { continue }
            let found = match(node)
            candidate = FoundMatch(start: position &- found.length, end: position, secret: found.secret)
        }
        state.node = node
        state.skipping = skipping || node == 0
        state.candidate = candidate
        state.anchor = anchor
    }
}
