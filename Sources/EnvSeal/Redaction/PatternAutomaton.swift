import SodiumKit

/// The compiled form of a ``RedactionPatterns``: an Aho–Corasick automaton over every registered
/// form of every secret, plus a prefilter.
///
/// The automaton spells out the secrets, so all of it lives in one ``SecureBytes`` block, in the
/// sections `Layout.offsets` lists. A state's kind follows from its number: `0..<denseCount`
/// are the states within `denseDepth` of the root (full rows, one load per byte),
/// `denseCount..<matchStart` deeper states with no match, `matchStart..<nodeCount` deeper states
/// where a pattern ends. The layout and sizes are in docs/REDACTION.md.
final class PatternAutomaton: Sendable {
    let storage: SecureBytes
    let nodeCount: Int
    let denseCount: Int
    let matchStart: Int
    let stride: Int
    let denseDepth: Int
    let patternCount: Int
    /// How many bytes the prefilter hashes at a position (at most 8).
    let window: Int
    /// The prefilter looks at every `sampleStep`-th position.
    let sampleStep: Int
    let filterShift: UInt64
    let filterWordCount: Int

    let classesOffset: Int
    let denseOffset: Int
    let failOffset: Int
    let liveOffset: Int
    let edgeStartOffset: Int
    let edgeTargetOffset: Int
    let edgeByteOffset: Int
    let matchLengthOffset: Int
    let matchSecretOffset: Int
    let filterOffset: Int

    struct Layout {
        var nodeCount = 1
        var denseCount = 1
        var matchStart = 1
        var stride = 1
        var denseDepth = 0
        var edgeCount = 0
        var patternCount = 0
        var window = 5
        var sampleStep = 1
        var filterBits = 10

        var sparseCount: Int { nodeCount - denseCount }
        var matchCount: Int { nodeCount - matchStart }
        var filterWordCount: Int { 1 << (filterBits - 6) }

        /// Section offsets in order (classes, dense, fail, live, edgeStart, edgeTarget, edgeByte,
        /// matchLength, matchSecret, filter), then the total size rounded up to 64 bytes (so that
        /// the block sodium_malloc places against its guard page starts 64-byte aligned).
        var offsets: [Int] {
            let sizes = [
                256, denseCount * stride * 4, nodeCount * 4, nodeCount * 4, (sparseCount + 1) * 4,
                edgeCount * 4, edgeCount, matchCount * 4, matchCount * 4, filterWordCount * 8,
            ]
            var offsets: [Int] = []
            var offset = 0
            for size in sizes {
                offsets.append(offset)
                offset = (offset + size + 7) & ~7
            }
            offsets.append((offset + 63) & ~63)
            return offsets
        }
    }

    init(layout: Layout, storage: SecureBytes) {
        let offsets = layout.offsets
        precondition(storage.count == offsets[10])
        precondition(
            storage.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 8 == 0 },
            "guarded memory not 8-byte aligned"
        )
        self.storage = storage
        nodeCount = layout.nodeCount
        denseCount = layout.denseCount
        matchStart = layout.matchStart
        stride = layout.stride
        denseDepth = layout.denseDepth
        patternCount = layout.patternCount
        window = layout.window
        sampleStep = layout.sampleStep
        filterShift = UInt64(64 - layout.filterBits)
        filterWordCount = layout.filterWordCount
        classesOffset = offsets[0]
        denseOffset = offsets[1]
        failOffset = offsets[2]
        liveOffset = offsets[3]
        edgeStartOffset = offsets[4]
        edgeTargetOffset = offsets[5]
        edgeByteOffset = offsets[6]
        matchLengthOffset = offsets[7]
        matchSecretOffset = offsets[8]
        filterOffset = offsets[9]
    }

    /// Calls `body` with a view for scanning; the view must not escape.
    @inline(__always)
    func withView<R>(_ body: (AutomatonView) -> R) -> R {
        storage.withUnsafeBytes { raw in body(AutomatonView(self, base: raw.baseAddress!)) }
    }

    /// The multiplier of the prefilter's hash (Fibonacci hashing: the top bits of the product
    /// depend on every bit of the key).
    static let filterMultiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
}

/// Raw reads of a ``PatternAutomaton`` for the scanning loops: plain loads, no bounds checks
/// (the builder guarantees every stored index is in range), no reference counting.
struct AutomatonView {
    let base: UnsafeRawPointer
    let denseCount: UInt32
    let matchStart: UInt32
    let stride: Int
    let windowMask: UInt64
    let sampleStep: Int
    let filterShift: UInt64
    let classes: UnsafeRawPointer
    let dense: UnsafeRawPointer
    let fail: UnsafeRawPointer
    let live: UnsafeRawPointer
    let edgeStart: UnsafeRawPointer
    let edgeTarget: UnsafeRawPointer
    let edgeByte: UnsafeRawPointer
    let matchLength: UnsafeRawPointer
    let matchSecret: UnsafeRawPointer
    let filter: UnsafeRawPointer

    init(_ automaton: PatternAutomaton, base: UnsafeRawPointer) {
        self.base = base
        denseCount = UInt32(automaton.denseCount)
        matchStart = UInt32(automaton.matchStart)
        stride = automaton.stride
        windowMask = automaton.window >= 8 ? ~0 : (1 << UInt64(8 * automaton.window)) - 1
        sampleStep = automaton.sampleStep
        filterShift = automaton.filterShift
        classes = base + automaton.classesOffset
        dense = base + automaton.denseOffset
        fail = base + automaton.failOffset
        live = base + automaton.liveOffset
        edgeStart = base + automaton.edgeStartOffset
        edgeTarget = base + automaton.edgeTargetOffset
        edgeByte = base + automaton.edgeByteOffset
        matchLength = base + automaton.matchLengthOffset
        matchSecret = base + automaton.matchSecretOffset
        filter = base + automaton.filterOffset
    }

    /// The state after reading `byte` in `state`.
    @inline(__always)
    func step(_ state: UInt32, _ byte: UInt8) -> UInt32 {
        if state < denseCount {
            let column = Int(classes.load(fromByteOffset: Int(byte), as: UInt8.self))
            return dense.load(fromByteOffset: (Int(state) &* stride &+ column) &<< 2, as: UInt32.self)
        }
        return sparseStep(state, byte)
    }

    /// A step from a state beyond the dense rows: its own edges, else its failure link, until a
    /// dense state answers.
    @inline(never)
    func sparseStep(_ state: UInt32, _ byte: UInt8) -> UInt32 {
        var state = state
        while state >= denseCount {
            let index = Int(state &- denseCount)
            var edge = Int(edgeStart.load(fromByteOffset: index &<< 2, as: UInt32.self))
            let end = Int(edgeStart.load(fromByteOffset: (index &+ 1) &<< 2, as: UInt32.self))
            while edge < end {
                if edgeByte.load(fromByteOffset: edge, as: UInt8.self) == byte {
                    return edgeTarget.load(fromByteOffset: edge &<< 2, as: UInt32.self)
                }
                edge &+= 1
            }
            state = fail.load(fromByteOffset: Int(state) &<< 2, as: UInt32.self)
        }
        let column = Int(classes.load(fromByteOffset: Int(byte), as: UInt8.self))
        return dense.load(fromByteOffset: (Int(state) &* stride &+ column) &<< 2, as: UInt32.self)
    }

    /// How many of the bytes just read may still grow into a pattern: the longest suffix of the
    /// input that is a proper prefix of some pattern. No byte before it can begin a match.
    @inline(__always)
    func liveLength(_ state: UInt32) -> Int {
        Int(live.load(fromByteOffset: Int(state) &<< 2, as: UInt32.self))
    }

    /// Whether a pattern ends in `state`.
    @inline(__always)
    func isMatch(_ state: UInt32) -> Bool { state >= matchStart }

    /// The longest pattern ending in a matching `state`: its length and its secret's index.
    @inline(__always)
    func match(_ state: UInt32) -> (length: Int, secret: Int) {
        let index = Int(state &- matchStart) &<< 2
        return (
            Int(matchLength.load(fromByteOffset: index, as: UInt32.self)),
            Int(matchSecret.load(fromByteOffset: index, as: UInt32.self))
        )
    }

    /// Where the automaton must take over, at or after `start`: the first position where a
    /// pattern may begin by the prefilter, or where the prefilter cannot judge (too near the end).
    ///
    /// The prefilter hashes the `window` bytes at every `sampleStep`-th position and checks one
    /// bit. It holds the keys of each pattern at offsets `0..<sampleStep`, so a position looked
    /// at vouches for the `sampleStep` positions ending there: a hit at `p` means a pattern may
    /// begin anywhere in `p - sampleStep + 1 ... p`, and the automaton starts at the first of them.
    @inline(__always)
    func skip(_ bytes: UnsafeRawPointer, from start: Int, count: Int) -> Int {
        let step = sampleStep
        var probe = start &+ step &- 1
        // 8 readable bytes at each probe, for one unaligned load.
        let last = count &- 8
        // Four probes per round: their loads are independent, so they overlap.
        while probe &+ 3 &* step <= last {
            let hits = mayStart(bytes, probe) | mayStart(bytes, probe &+ step) &<< 1
                | mayStart(bytes, probe &+ 2 &* step) &<< 2 | mayStart(bytes, probe &+ 3 &* step) &<< 3
            if hits != 0 { return probe &+ hits.trailingZeroBitCount &* step &- step &+ 1 }
            probe &+= 4 &* step
        }
        while probe <= last {
            if mayStart(bytes, probe) != 0 { break }
            probe &+= step
        }
        return probe &- step &+ 1
    }

    /// 1 when a pattern may begin at `position` (8 readable bytes there), else 0.
    @inline(__always)
    private func mayStart(_ bytes: UnsafeRawPointer, _ position: Int) -> UInt64 {
        let key = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)) & windowMask
        let bit = (key &* PatternAutomaton.filterMultiplier) &>> filterShift
        let word = filter.load(fromByteOffset: Int(bit &>> 6) &<< 3, as: UInt64.self)
        return (word &>> (bit & 63)) & 1
    }
}
