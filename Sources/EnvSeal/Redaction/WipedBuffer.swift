#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable buffer for bytes derived from secrets while the automaton is built: every block it
/// lets go of, when it grows and when it is released, is zeroed first.
///
/// `Array` would leave copies behind: growing reallocates and frees the old block unzeroed. The
/// zeroing goes through `explicit_bzero` / `memset_s`, which the optimiser may not drop as dead
/// stores before the free.
final class WipedBuffer<Element: BitwiseCopyable> {
    // Only the builder touches a buffer, from one thread; the dynamic exclusivity checks Swift
    // would run on every access to a class's `var`s cost more than the work itself.
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<Element>
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var capacity: Int

    init(capacity: Int = 16) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    /// A buffer of `count` copies of `value`.
    convenience init(repeating value: Element, count: Int) {
        self.init(capacity: count)
        base.initialize(repeating: value, count: count)
        self.count = count
    }

    deinit {
        Self.wipe(base, count: capacity)
        base.deallocate()
    }

    subscript(index: Int) -> Element {
        @inline(__always) get {
            assert(index >= 0 && index < count)
            return base[index]
        }
        @inline(__always) set {
            assert(index >= 0 && index < count)
            base[index] = newValue
        }
    }

    @inline(__always)
    func append(_ element: Element) {
        if count == capacity { grow(to: capacity * 2) }
        base[count] = element
        count += 1
    }

    func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let source = elements.baseAddress, !elements.isEmpty else { return }
        if count + elements.count > capacity { grow(to: max(capacity * 2, count + elements.count)) }
        (base + count).update(from: source, count: elements.count)
        count += elements.count
    }

    /// Forgets the contents, zeroing them, and keeps the capacity.
    func removeAll() {
        Self.wipe(base, count: count)
        count = 0
    }

    var elements: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    private func grow(to newCapacity: Int) {
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        Self.wipe(base, count: capacity)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    private static func wipe(_ pointer: UnsafeMutablePointer<Element>, count: Int) {
        let byteCount = count * MemoryLayout<Element>.stride
        guard byteCount > 0 else { return }
        #if canImport(Darwin)
        _ = memset_s(pointer, byteCount, 0, byteCount)
        #else
        explicit_bzero(pointer, byteCount)
        #endif
    }
}
