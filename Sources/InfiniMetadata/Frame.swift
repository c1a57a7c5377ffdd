import InfiniCoding

/// How records sit in log segments and checkpoints: `[length u32][crc u32][payload]`, little-
/// endian, where the CRC32C covers the length field and the payload, so a damaged length is
/// caught as surely as a damaged payload.
enum Frame {
    static let headerLength = 8
    static let maximumPayloadLength = MetadataRecord.maximumEncodedLength

    /// Appends one frame to `writer`, the payload written by `body`.
    static func append(to writer: inout ByteWriter, _ body: (inout ByteWriter) -> Void) {
        let start = writer.bytes.count
        writer.write(UInt64(0))
        body(&writer)
        let length = UInt32(truncatingIfNeeded: writer.bytes.count - start - headerLength)
        writer.patch(length, at: start)
        // Computed first, so no slice of the buffer is alive while it is patched (a copy).
        let crc = checksum(writer.bytes[start...])
        writer.patch(crc, at: start + 4)
    }

    /// The CRC of a whole frame whose CRC field is ignored: length field, then payload.
    static func checksum(_ frame: ArraySlice<UInt8>) -> UInt32 {
        let bytes = frame.span.bytes
        let lengthCRC = CRC32C.checksum(bytes.extracting(0..<4))
        return CRC32C.checksum(bytes.extracting(headerLength..<bytes.byteCount), seed: lengthCRC)
    }

    /// One record as a frame.
    ///
    /// - Throws: ``MetadataLogError/Code/recordTooLarge`` for a key that would not decode.
    static func encode(_ record: MetadataRecord) throws(MetadataLogError) -> [UInt8] {
        if let key = record.key, key.count > MetadataRecord.maximumKeyLength {
            throw MetadataLogError(
                .recordTooLarge,
                "a key of \(key.count) bytes exceeds the maximum \(MetadataRecord.maximumKeyLength)"
            )
        }
        var writer = ByteWriter(capacity: 256)
        append(to: &writer) { record.encode(into: &$0) }
        return writer.bytes
    }
}

/// Bytes that hold frames: a log file, or an object read from the COS.
protocol FrameSource {
    /// Where the bytes are, for error messages.
    var path: String { get }
    var size: Int { get throws(MetadataLogError) }
    /// Up to `count` bytes from `offset`; fewer only at the end.
    func read(count: Int, at offset: Int) throws(MetadataLogError) -> [UInt8]
}

extension LogFile: FrameSource {}

/// Frames already in memory, such as an object read from the COS.
struct FrameBytes: FrameSource {
    let path: String
    let bytes: [UInt8]

    var size: Int { bytes.count }

    func read(count: Int, at offset: Int) -> [UInt8] {
        Array(bytes[min(offset, bytes.count)..<min(offset + count, bytes.count)])
    }
}

/// Reads frames front to back, through a buffer refilled from the source (`pread` for a file).
struct FrameScanner<Source: FrameSource> {
    /// What lies at an offset.
    enum Item {
        /// A whole frame whose CRC matches.
        case frame(payload: ArraySlice<UInt8>, next: Int)
        /// The end of the file, exactly at a frame boundary.
        case end
        /// A frame cut short by the end of the file: the shape of a write a crash interrupted.
        case incomplete(String)
        /// A frame with an impossible length or a wrong CRC.
        case damaged(String)
    }

    let file: Source
    let size: Int
    private var buffer: [UInt8] = []
    private var bufferOffset = 0
    private static var readSize: Int { 1 << 20 }

    init(_ file: Source) throws(MetadataLogError) {
        self.file = file
        self.size = try file.size
    }

    /// The offset of the first intact frame that starts after `offset`, trying every byte
    /// offset; nil if there is none.
    ///
    /// - Throws: ``MetadataLogError/Code/corruptLog`` if checksumming candidates takes more than
    ///   `budget` bytes in all before an answer: that much look-alike data is not a torn write.
    mutating func firstIntactFrame(after offset: Int, budget: Int = 256 << 20) throws(MetadataLogError) -> Int? {
        var budget = budget
        var candidate = offset + 1
        while candidate + Frame.headerLength < size {
            var reader = ByteReader(try bytes(at: candidate, count: 4))
            let length = Int(try reader.read(UInt32.self))
            if length > 0, length <= Frame.maximumPayloadLength, candidate + Frame.headerLength + length <= size {
                budget -= length
                guard budget >= 0 else {
                    throw MetadataLogError(
                        .corruptLog,
                        "\(file.path): damage at offset \(offset) could not be told apart from a torn write"
                    )
                }
                if case .frame = try item(at: candidate) { return candidate }
            }
            candidate += 1
        }
        return nil
    }

    /// Applies the records from the start until the end, or until the first frame that is not
    /// whole and intact, whose offset and problem it returns.
    ///
    /// - Throws: ``MetadataLogError/Code/corruptLog`` for an intact frame that is not a record.
    mutating func replay(
        into state: inout MetadataState
    ) throws(MetadataLogError) -> (records: Int, offset: Int, problem: String?) {
        var offset = 0
        var records = 0
        while true {
            switch try item(at: offset) {
            case .frame(let payload, let next):
                do throws(MetadataLogError) {
                    state.apply(try MetadataRecord(decoding: payload))
                } catch {
                    throw MetadataLogError(.corruptLog, "\(file.path) at offset \(offset): \(error.message)")
                }
                records += 1
                offset = next
            case .end:
                return (records, offset, nil)
            case .incomplete(let problem), .damaged(let problem):
                return (records, offset, problem)
            }
        }
    }

    mutating func item(at offset: Int) throws(MetadataLogError) -> Item {
        if offset == size { return .end }
        guard size - offset >= Frame.headerLength else {
            return .incomplete("\(size - offset) bytes, less than a frame header")
        }
        let header = try bytes(at: offset, count: Frame.headerLength)
        var reader = ByteReader(header)
        let length = Int(try reader.read(UInt32.self))
        let expected = try reader.read(UInt32.self)
        guard length > 0, length <= Frame.maximumPayloadLength else {
            return .damaged("frame length \(length) out of range")
        }
        let next = offset + Frame.headerLength + length
        guard next <= size else {
            return .incomplete("frame of \(length) bytes runs past the end of the file")
        }
        let frame = try bytes(at: offset, count: Frame.headerLength + length)
        guard Frame.checksum(frame) == expected else {
            return .damaged("checksum mismatch in a frame of \(length) bytes")
        }
        return .frame(payload: frame.dropFirst(Frame.headerLength), next: next)
    }

    /// `count` bytes from `offset`, which the caller has checked lie within the file.
    private mutating func bytes(at offset: Int, count: Int) throws(MetadataLogError) -> ArraySlice<UInt8> {
        if offset < bufferOffset || offset + count > bufferOffset + buffer.count {
            buffer = try file.read(count: max(count, Self.readSize), at: offset)
            bufferOffset = offset
            guard buffer.count >= count else {
                throw MetadataLogError(.ioFailure, "\(file.path) shrank while it was being read")
            }
        }
        let start = offset - bufferOffset
        return buffer[start..<(start + count)]
    }
}
