import SodiumKit

/// Builds a ``PatternAutomaton``: a trie of the patterns, Aho–Corasick failure links by breadth-first
/// search, full transition rows for the states near the root, and the prefilter.
///
/// Everything it holds spells out secrets, so it keeps it in ``WipedBuffer``s.
struct AutomatonBuilder {
    /// Every pattern is at least this long.
    let minimumLength: Int
    /// Dense rows cost `columns × 4` bytes each; the deepest level of the trie (up to 2) whose rows
    /// all fit in this budget gets them. The automaton reads only the bytes the prefilter lets
    /// through (under 1 % of log text), mostly in states near the root, so a small table is enough.
    let denseBudget: Int

    // The trie, in insertion order; node 0 is the root, and 0 also means "none" in links.
    private let label = WipedBuffer<UInt8>()
    private let firstChild = WipedBuffer<UInt32>()
    private let nextSibling = WipedBuffer<UInt32>()
    /// Secret index + 1 where a pattern ends, else 0.
    private let terminal = WipedBuffer<UInt32>()
    private let depth = WipedBuffer<UInt32>()
    private let rootChild = WipedBuffer<UInt32>(repeating: 0, count: 256)
    /// The prefilter keys of each pattern: its `window` bytes at each offset below `sampleStep`,
    /// little-endian.
    private let prefixKeys = WipedBuffer<UInt64>()
    private(set) var patternCount = 0

    /// How many bytes the prefilter hashes: 5 (enough that hex IDs in logs rarely hit the hex
    /// forms of secrets), fewer when patterns may be shorter.
    var window: Int { min(5, minimumLength) }
    /// The prefilter looks at every `sampleStep`-th position only; a pattern that starts in
    /// between still has its `window` bytes at one of the positions looked at, as every pattern
    /// is at least `window + sampleStep - 1` long.
    var sampleStep: Int { max(1, min(4, minimumLength - window + 1)) }

    init(minimumLength: Int, denseBudget: Int = 256 << 10) {
        precondition(minimumLength >= 1)
        self.minimumLength = minimumLength
        self.denseBudget = denseBudget
        addNode(label: 0, depth: 0)
    }

    private func addNode(label byte: UInt8, depth level: UInt32) {
        label.append(byte)
        firstChild.append(0)
        nextSibling.append(0)
        terminal.append(0)
        depth.append(level)
    }

    private func child(of node: UInt32, _ byte: UInt8) -> UInt32 {
        if node == 0 { return rootChild[Int(byte)] }
        var child = firstChild[Int(node)]
        while child != 0 && label[Int(child)] != byte { child = nextSibling[Int(child)] }
        return child
    }

    /// Adds a pattern for secret number `secret`; a pattern already present keeps its first secret.
    mutating func insert(_ pattern: UnsafeBufferPointer<UInt8>, secret: Int) {
        precondition(pattern.count >= minimumLength)
        var node: UInt32 = 0
        for byte in pattern {
            var next = child(of: node, byte)
            if next == 0 {
                next = UInt32(label.count)
                addNode(label: byte, depth: depth[Int(node)] + 1)
                nextSibling[Int(next)] = firstChild[Int(node)]
                firstChild[Int(node)] = next
                if node == 0 { rootChild[Int(byte)] = next }
            }
            node = next
        }
        guard terminal[Int(node)] == 0 else { return }
        terminal[Int(node)] = UInt32(secret + 1)
        patternCount += 1
        for offset in 0..<sampleStep {
            var key: UInt64 = 0
            for index in 0..<window { key |= UInt64(pattern[offset + index]) << UInt64(8 * index) }
            prefixKeys.append(key)
        }
    }

    /// Compiles the patterns into guarded memory.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    func build() throws(SodiumError) -> PatternAutomaton {
        let nodeCount = label.count
        // Breadth-first order, failure links, and for each node the node of the longest pattern
        // that is a suffix of it (itself when a pattern ends there). A node's failure link is
        // shallower, so breadth-first order has it ready.
        let order = WipedBuffer<UInt32>(capacity: nodeCount)
        let fail = WipedBuffer<UInt32>(repeating: 0, count: nodeCount)
        let matchNode = WipedBuffer<UInt32>(repeating: 0, count: nodeCount)
        // The longest suffix of each node that is a proper prefix of some pattern (a node with
        // children): what the scan must hold back, and how far back a match may still start.
        let live = WipedBuffer<UInt32>(repeating: 0, count: nodeCount)
        order.append(0)
        var head = 0
        while head < order.count {
            let node = order[head]
            head += 1
            var child = firstChild[Int(node)]
            while child != 0 {
                if node != 0 {
                    var state = fail[Int(node)]
                    let byte = label[Int(child)]
                    while true {
                        let next = self.child(of: state, byte)
                        if next != 0 || state == 0 {
                            fail[Int(child)] = next
                            break
                        }
                        state = fail[Int(state)]
                    }
                }
                matchNode[Int(child)] = terminal[Int(child)] != 0 ? child : matchNode[Int(fail[Int(child)])]
                live[Int(child)] = firstChild[Int(child)] != 0 ? depth[Int(child)] : live[Int(fail[Int(child)])]
                order.append(child)
                child = nextSibling[Int(child)]
            }
        }

        // The dense depth: as deep as the budget allows (the root always), and shallower than
        // every pattern so that no dense state is a match. The columns are the bytes on edges
        // leaving dense states; every other byte leads a dense state back to the root.
        let classOf = WipedBuffer<UInt8>(repeating: 0, count: 256)
        var denseDepth = 0
        var denseCount = 1
        var columnCount = 1
        for candidate in (0...min(2, minimumLength - 1)).reversed() {
            let used = WipedBuffer<UInt8>(repeating: 0, count: 256)
            var count = 0
            for index in 0..<nodeCount {
                let node = Int(order[index])
                let level = Int(depth[node])
                if level > candidate + 1 { break }
                if level <= candidate { count += 1 }
                if level >= 1 { used[Int(label[node])] = 1 }
            }
            let columns = 1 + used.elements.count(where: { $0 != 0 })
            guard count * columns * 4 <= denseBudget || candidate == 0 else { continue }
            denseDepth = candidate
            denseCount = count
            columnCount = columns
            var column: UInt8 = 1
            for byte in 0..<256 where used[byte] != 0 {
                classOf[byte] = column
                column += 1
            }
            break
        }

        // Final numbering: dense states (breadth-first), then deeper states without a match,
        // then deeper states with one.
        let finalOrder = WipedBuffer<UInt32>(capacity: nodeCount)
        for index in 0..<denseCount { finalOrder.append(order[index]) }
        for pass in 0..<2 {
            for index in denseCount..<nodeCount {
                let node = order[index]
                if (matchNode[Int(node)] != 0) == (pass == 1) { finalOrder.append(node) }
            }
        }
        let newID = WipedBuffer<UInt32>(repeating: 0, count: nodeCount)
        var matchStart = nodeCount
        for index in 0..<nodeCount {
            let node = finalOrder[index]
            newID[Int(node)] = UInt32(index)
            if index >= denseCount && matchNode[Int(node)] != 0 { matchStart = min(matchStart, index) }
        }
        var edgeCount = 0
        for index in denseCount..<nodeCount {
            var child = firstChild[Int(finalOrder[index])]
            while child != 0 {
                edgeCount += 1
                child = nextSibling[Int(child)]
            }
        }

        var layout = PatternAutomaton.Layout()
        layout.nodeCount = nodeCount
        layout.denseCount = denseCount
        layout.matchStart = matchStart
        layout.stride = columnCount
        layout.denseDepth = denseDepth
        layout.edgeCount = edgeCount
        layout.patternCount = patternCount
        layout.window = window
        layout.sampleStep = sampleStep
        // About 32 filter bits per key: a position looked at passes by chance with probability
        // ≈ keys / bits ≈ 3 %.
        var bits = 10
        while bits < 22 && (1 << bits) < 32 * prefixKeys.count { bits += 1 }
        layout.filterBits = bits
        let offsets = layout.offsets

        let storage = try SecureBytes(count: offsets[10]) { raw in
            let base = raw.baseAddress!
            func store32(_ section: Int, _ index: Int, _ value: UInt32) {
                base.storeBytes(of: value, toByteOffset: offsets[section] + index * 4, as: UInt32.self)
            }
            func load32(_ section: Int, _ index: Int) -> UInt32 {
                base.load(fromByteOffset: offsets[section] + index * 4, as: UInt32.self)
            }
            for byte in 0..<256 { base.storeBytes(of: classOf[byte], toByteOffset: offsets[0] + byte, as: UInt8.self) }
            // Dense rows, in breadth-first order so that a failure link's row is ready first.
            let representative = WipedBuffer<UInt8>(repeating: 0, count: columnCount)
            for byte in 0..<256 where classOf[byte] != 0 { representative[Int(classOf[byte])] = UInt8(byte) }
            for state in 0..<denseCount {
                let node = finalOrder[state]
                for column in 0..<columnCount {
                    let next = column == 0 ? 0 : child(of: node, representative[column])
                    let value: UInt32
                    if next != 0 {
                        value = newID[Int(next)]
                    } else if node == 0 {
                        value = 0
                    } else {
                        value = load32(1, Int(newID[Int(fail[Int(node)])]) * columnCount + column)
                    }
                    store32(1, state * columnCount + column, value)
                }
            }
            var edge = 0
            for state in 0..<nodeCount {
                let node = finalOrder[state]
                store32(2, state, newID[Int(fail[Int(node)])])
                store32(3, state, live[Int(node)])
                if state >= denseCount {
                    store32(4, state - denseCount, UInt32(edge))
                    var child = firstChild[Int(node)]
                    while child != 0 {
                        store32(5, edge, newID[Int(child)])
                        base.storeBytes(of: label[Int(child)], toByteOffset: offsets[6] + edge, as: UInt8.self)
                        edge += 1
                        child = nextSibling[Int(child)]
                    }
                }
                if state >= matchStart {
                    let matched = Int(matchNode[Int(node)])
                    store32(7, state - matchStart, depth[matched])
                    store32(8, state - matchStart, terminal[matched] - 1)
                }
            }
            store32(4, nodeCount - denseCount, UInt32(edge))
            let shift = UInt64(64 - bits)
            for key in prefixKeys.elements {
                let bit = Int((key &* PatternAutomaton.filterMultiplier) >> shift)
                let offset = offsets[9] + (bit >> 6) * 8
                let word = base.load(fromByteOffset: offset, as: UInt64.self)
                base.storeBytes(of: word | (1 << UInt64(bit & 63)), toByteOffset: offset, as: UInt64.self)
            }
        }
        return PatternAutomaton(layout: layout, storage: storage)
    }
}
