/// Transforms one output stream of a supervised child on its way to ours; typically a redactor.
///
/// ``ChildProcess/supervise(command:environment:stdout:stderr:)`` calls ``filter(_:)`` with each
/// chunk as it is read, in order, and ``finish()`` exactly once after the last chunk, even when
/// the output cannot be written anywhere. Chunk boundaries fall wherever the child's writes and
/// the pipe put them, so a filter that matches multi-byte patterns must hold back a possible
/// prefix of a match until the next chunk or `finish()`.
package protocol OutputFilter {
    /// Transforms a chunk read from the child.
    /// - Parameter bytes: The chunk; valid only during the call.
    /// - Returns: The bytes to write now; empty to hold everything back.
    mutating func filter(_ bytes: UnsafeRawBufferPointer) -> [UInt8]

    /// Ends the stream.
    /// - Returns: What the filter still held back, written after everything else.
    mutating func finish() -> [UInt8]
}

/// An ``OutputFilter`` that passes every byte through unchanged.
package struct PassThroughFilter: OutputFilter {
    package init() {}

    /// Returns `bytes` unchanged.
    package mutating func filter(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { Array(bytes) }

    /// Returns nothing: nothing is ever held back.
    package mutating func finish() -> [UInt8] { [] }
}
