import CLZ4

/// The LZ4 block format: no framing, so callers record the original length beside the block.
public enum LZ4Block {
    /// The largest input LZ4 accepts in one block.
    public static let maximumInputLength = 0x7E00_0000

    /// The destination size that guarantees ``compress(_:into:)`` succeeds for `length` bytes.
    public static func maximumCompressedLength(_ length: Int) -> Int {
        precondition(length >= 0 && length <= maximumInputLength, "input too large for one LZ4 block")
        return Int(CLZ4_compressBound(Int32(length)))
    }

    /// Compresses `source` into the start of `destination` and returns the compressed length.
    ///
    /// - Throws: ``CodingError/Code/compressionFailed`` when `destination` is too small.
    public static func compress(_ source: RawSpan, into destination: inout MutableRawSpan) throws(CodingError) -> Int {
        let written = source.withUnsafeBytes { input in
            destination.withUnsafeMutableBytes { output in compress(input, into: output) }
        }
        guard let written else {
            throw CodingError(.compressionFailed, "LZ4 compression needs a larger destination buffer")
        }
        return written
    }

    /// Decompresses the block `source` into the start of `destination` and returns the
    /// decompressed length. Safe on untrusted input.
    ///
    /// - Throws: ``CodingError/Code/decompressionFailed`` when the block is malformed or does not fit.
    public static func decompress(_ source: RawSpan, into destination: inout MutableRawSpan) throws(CodingError) -> Int {
        let written = source.withUnsafeBytes { input in
            destination.withUnsafeMutableBytes { output in decompress(input, into: output) }
        }
        guard let written else {
            throw CodingError(.decompressionFailed, "malformed LZ4 block or destination too small")
        }
        return written
    }

    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard source.count <= maximumInputLength, let output = destination.baseAddress else { return nil }
        guard let input = source.baseAddress, source.count > 0 else { return nil }
        let written = CLZ4_compress(input, output, Int32(source.count), Int32(clamping: destination.count))
        return written > 0 ? Int(written) : nil
    }

    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int? {
        guard let input = source.baseAddress, source.count > 0, source.count <= maximumInputLength else { return nil }
        guard let output = destination.baseAddress else { return nil }
        let written = CLZ4_decompress(input, output, Int32(source.count), Int32(clamping: destination.count))
        return written >= 0 ? Int(written) : nil
    }
}
