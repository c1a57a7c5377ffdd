/// Decides whether LZ4-compressing a stripe pays.
///
/// Compressing costs about 20× more CPU than erasure coding, and data that is already compressed
/// (images, gzip, encrypted) does not shrink. So a few evenly spaced windows are compressed first;
/// only if they shrink enough is the whole stripe compressed, and the result is kept only if it
/// is clearly smaller. LZ4 skips through incompressible windows quickly, so the check costs
/// microseconds per MiB.
public struct CompressionPolicy: Hashable, Sendable {
    /// Whether compression is attempted at all.
    public var isEnabled: Bool
    /// Stripes shorter than this are never compressed: the saving cannot pay for the work.
    public var minimumLength: Int
    /// The length of each sampled window.
    public var sampleLength: Int
    /// How many windows are sampled.
    public var sampleCount: Int
    /// The samples must compress to at most this fraction of their length.
    public var maximumSampleRatio: Double
    /// The whole stripe is stored compressed only at or below this fraction of its length.
    public var maximumRatio: Double

    public init(
        isEnabled: Bool = true,
        minimumLength: Int = 1024,
        sampleLength: Int = 4096,
        sampleCount: Int = 4,
        maximumSampleRatio: Double = 0.85,
        maximumRatio: Double = 0.9
    ) {
        self.isEnabled = isEnabled
        self.minimumLength = minimumLength
        self.sampleLength = sampleLength
        self.sampleCount = sampleCount
        self.maximumSampleRatio = maximumSampleRatio
        self.maximumRatio = maximumRatio
    }

    public static let `default` = CompressionPolicy()
    public static let disabled = CompressionPolicy(isEnabled: false)

    /// Whether `bytes` look worth compressing, judged from samples.
    public func looksCompressible(_ bytes: RawSpan) -> Bool {
        bytes.withUnsafeBytes { looksCompressible(UnsafeRawBufferPointer($0)) }
    }

    func looksCompressible(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard isEnabled, bytes.count >= minimumLength else { return false }
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: scratchLength,
            alignment: MemoryLayout<UInt64>.alignment
        )
        defer { scratch.deallocate() }
        return looksCompressible(bytes, scratch: scratch)
    }

    /// The scratch space ``looksCompressible(_:scratch:)`` needs.
    var scratchLength: Int { LZ4Block.maximumCompressedLength(sampleLength) }

    /// The check itself, compressing samples into caller-owned `scratch` so that the encoder's
    /// hot path does not allocate.
    func looksCompressible(_ bytes: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) -> Bool {
        guard isEnabled, bytes.count >= minimumLength, bytes.count <= LZ4Block.maximumInputLength else { return false }
        precondition(scratch.count >= scratchLength, "sampling scratch too small")
        let window = min(sampleLength, bytes.count)
        let windows = bytes.count <= window ? 1 : max(1, sampleCount)
        var sampled = 0
        var compressed = 0
        for sample in 0..<windows {
            let start = windows == 1 ? 0 : (bytes.count - window) / (windows - 1) * sample
            let source = UnsafeRawBufferPointer(rebasing: bytes[start..<start + window])
            compressed += LZ4Block.compress(source, into: scratch) ?? window
            sampled += window
        }
        return Double(compressed) <= Double(sampled) * maximumSampleRatio
    }

    /// Whether a stripe of `length` bytes that compressed to `compressedLength` is worth storing compressed.
    public func keepsCompressed(length: Int, compressedLength: Int) -> Bool {
        Double(compressedLength) <= Double(length) * maximumRatio
    }
}
