import CISAL

/// CRC32C (Castagnoli), computed by ISA-L's `crc32_iscsi` with SSE4.2/AVX-512 instructions.
public enum CRC32C {
    /// The checksum of `bytes`; pass a previous result as `seed` to continue over more bytes.
    public static func checksum(_ bytes: RawSpan, seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum(UnsafeRawBufferPointer($0), seed: seed) }
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        var crc = seed
        var offset = 0
        // ISA-L takes an `int` length.
        while offset < bytes.count {
            let length = min(bytes.count - offset, Int(Int32.max))
            crc = CISAL_crc32c(base + offset, Int32(length), crc)
            offset += length
        }
        return crc
    }
}
