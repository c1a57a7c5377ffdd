/// Builds a byte array from little-endian integers and byte strings.
struct ByteWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
    }

    /// Overwrites the bytes at `offset` with `value`, for a field known only after what follows.
    mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
        }
    }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Reads little-endian integers and byte strings from untrusted bytes; every read checks that
/// the bytes are there first and throws ``MetadataLogError/Code/invalidRecord`` if not.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - position }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(MetadataLogError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        let offset = position - bytes.startIndex
        position += size
        // In bounds: `require` checked that `size` bytes remain.
        return T(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) })
    }

    mutating func readBytes(_ count: Int) throws(MetadataLogError) -> [UInt8] {
        try require(count)
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    /// Throws unless every byte was read: trailing bytes mean the record is not what it claims.
    func expectEnd() throws(MetadataLogError) {
        guard remaining == 0 else {
            throw MetadataLogError(.invalidRecord, "\(remaining) unexpected bytes after the record")
        }
    }

    private func require(_ count: Int) throws(MetadataLogError) {
        guard count <= remaining else {
            throw MetadataLogError(
                .invalidRecord,
                "record truncated: \(count) bytes needed at offset \(position - bytes.startIndex), \(remaining) left"
            )
        }
    }
}
