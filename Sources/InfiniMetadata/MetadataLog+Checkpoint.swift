import Glibc
import Synchronization

extension MetadataLog {
    /// Starts a checkpoint: appends go to a new segment from here on, and the returned boundary
    /// names it. Records written before this returns are all in earlier segments, which become
    /// durable now (unless the policy is `.never`).
    ///
    /// - Throws: ``MetadataLogError/Code/checkpointInProgress`` while another checkpoint is
    ///   being written; ``MetadataLogError/Code/ioFailure`` if the new segment cannot be made.
    public func beginCheckpoint() throws(MetadataLogError) -> MetadataCheckpointBoundary {
        let syncs = configuration.fsync != .never
        let directory = self.directory
        var stopped = false
        defer { if stopped { core.failWaiters() } }
        let (boundary, synced) = try core.state.withLock {
            state throws(MetadataLogError) -> (MetadataCheckpointBoundary, UInt64?) in
            let previous = try state.writableSegment()
            if let checkpoint = state.checkpoint {
                throw MetadataLogError(
                    .checkpointInProgress,
                    "\(LogFileName.checkpoint(checkpoint.sequence).name) is still being written"
                )
            }
            let sequence = state.segmentSequence + 1
            let path = LogFileName.segment(sequence).path(in: directory)
            let next = try LogFile.open(path, flags: O_RDWR | O_APPEND | O_CREAT | O_EXCL)
            if syncs {
                do throws(MetadataLogError) {
                    try Directory.sync(directory)
                } catch {
                    try? Directory.remove(path)
                    throw error
                }
                do throws(MetadataLogError) {
                    try previous.syncData()
                } catch {
                    try? Directory.remove(path)
                    state.failure = error
                    stopped = true
                    throw error
                }
            }
            let boundary = MetadataCheckpointBoundary(
                sequence: sequence,
                highestVersion: state.highestVersion,
                logBytes: state.logBytes
            )
            state.segment = next
            state.segmentSequence = sequence
            state.segmentLength = 0
            state.checkpoint = boundary
            return (boundary, syncs ? state.written : nil)
        }
        if let synced { core.finishSync(through: synced, failure: nil) }
        return boundary
    }

    /// Writes the checkpoint started by ``beginCheckpoint()`` from a snapshot of the state that
    /// contains every record written before `boundary` (see ``MetadataLog`` for why later ones
    /// may be in it too), then deletes the checkpoints and segments it replaces. Blocks on file
    /// I/O; appends go on meanwhile.
    ///
    /// - Parameters:
    ///   - entries: Every key and its metadata; a dictionary of them will do.
    ///   - boundary: What ``beginCheckpoint()`` returned.
    /// - Throws: ``MetadataLogError/Code/checkpointNotStarted`` if `boundary` is not the
    ///   checkpoint in progress; ``MetadataLogError/Code/closed`` if the log is;
    ///   ``MetadataLogError/Code/ioFailure`` if a file operation fails,
    ///   in which case the previous checkpoint and all segments stay, and another checkpoint can
    ///   be begun.
    public func writeCheckpoint(
        _ entries: some Sequence<(key: [UInt8], value: KeyMetadata)>,
        at boundary: MetadataCheckpointBoundary
    ) throws(MetadataLogError) {
        try core.state.withLock { state throws(MetadataLogError) in
            _ = try state.writableSegment()
            guard state.checkpoint == boundary else {
                throw MetadataLogError(
                    .checkpointNotStarted,
                    "no checkpoint at segment \(boundary.sequence) is in progress"
                )
            }
        }
        do throws(MetadataLogError) {
            try CheckpointFile.write(entries, at: boundary, in: directory)
        } catch {
            core.state.withLock { $0.checkpoint = nil }
            throw error
        }
        core.state.withLock { state in
            state.logBytes -= boundary.logBytes
            state.checkpoint = nil
        }
        try removeFiles(before: boundary.sequence)
    }

    /// Deletes the checkpoints and segments that checkpoint `sequence` replaces.
    private func removeFiles(before sequence: UInt64) throws(MetadataLogError) {
        for name in try Directory.list(directory) {
            switch LogFileName(name) {
            case .segment(let older)? where older < sequence,
                .checkpoint(let older)? where older < sequence:
                try Directory.remove(directory + "/" + name)
            default:
                break
            }
        }
        try Directory.sync(directory)
    }
}

/// The checkpoint file: magic `IMDCKPT1`, then frames as in a segment: a header
/// (format u8, kind `0x80`, boundary u64, expected key count u64, a hint for the reader), one
/// commit record per key, and a trailer (format u8, kind `0x81`, key count u64, highest version
/// u64) that must end the file.
enum CheckpointFile {
    static let magic: [UInt8] = Array("IMDCKPT1".utf8)
    private static let headerKind: UInt8 = 0x80
    private static let trailerKind: UInt8 = 0x81
    private static let flushLength = 1 << 20

    /// Writes the checkpoint to a temporary file, fsyncs it, renames it into place and fsyncs
    /// the directory; on failure the temporary file is removed.
    static func write(
        _ entries: some Sequence<(key: [UInt8], value: KeyMetadata)>,
        at boundary: MetadataCheckpointBoundary,
        in directory: String
    ) throws(MetadataLogError) {
        let temporary = LogFileName.temporaryCheckpoint(boundary.sequence).path(in: directory)
        do throws(MetadataLogError) {
            let file = try LogFile.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
            try encode(entries, at: boundary, flushingEvery: flushLength) { bytes throws(MetadataLogError) in
                try file.write(bytes)
            }
            try file.sync()
            try Directory.rename(temporary, to: LogFileName.checkpoint(boundary.sequence).path(in: directory))
            try Directory.sync(directory)
        } catch {
            try? Directory.remove(temporary)
            throw error
        }
    }

    /// The checkpoint's bytes, handed to `emit` in pieces of about `flushLength` bytes (the
    /// last one shorter), so a large one never sits in memory whole unless the caller keeps it.
    static func encode(
        _ entries: some Sequence<(key: [UInt8], value: KeyMetadata)>,
        at boundary: MetadataCheckpointBoundary,
        flushingEvery flushLength: Int,
        emit: ([UInt8]) throws(MetadataLogError) -> Void
    ) throws(MetadataLogError) {
        var writer = ByteWriter(capacity: min(flushLength, 1 << 20) + 4096)
        writer.write(magic)
        Frame.append(to: &writer) { header in
            header.write(MetadataRecord.formatVersion)
            header.write(headerKind)
            header.write(boundary.sequence)
            header.write(UInt64(entries.underestimatedCount))
        }
        var count: UInt64 = 0
        var highestVersion = boundary.highestVersion
        for (key, metadata) in entries {
            guard key.count <= MetadataRecord.maximumKeyLength else {
                throw MetadataLogError(.recordTooLarge, "a key of \(key.count) bytes cannot be checkpointed")
            }
            Frame.append(to: &writer) { MetadataRecord.commit(key: key, entry: metadata).encode(into: &$0) }
            count += 1
            highestVersion = max(highestVersion, metadata.version)
            if writer.bytes.count >= flushLength {
                try emit(writer.bytes)
                writer.removeAll()
            }
        }
        Frame.append(to: &writer) { trailer in
            trailer.write(MetadataRecord.formatVersion)
            trailer.write(trailerKind)
            trailer.write(count)
            trailer.write(highestVersion)
        }
        try emit(writer.bytes)
    }

    /// Reads a whole checkpoint back.
    ///
    /// - Throws: ``MetadataLogError/Code/corruptLog`` if anything about it is wrong: magic,
    ///   a frame, a record, the boundary it names, the key count, or bytes after the trailer.
    static func read(_ file: some FrameSource, sequence: UInt64) throws(MetadataLogError) -> MetadataState {
        let path = file.path
        guard try file.read(count: magic.count, at: 0) == magic else {
            throw MetadataLogError(.corruptLog, "\(path): not a checkpoint file")
        }
        var scanner = try FrameScanner(file)
        var offset = magic.count
        var state = MetadataState()
        var count: UInt64 = 0
        var sawHeader = false
        while true {
            guard case .frame(let payload, let next) = try scanner.item(at: offset) else {
                throw MetadataLogError(.corruptLog, "\(path) at offset \(offset): no intact frame before the trailer")
            }
            do throws(MetadataLogError) {
                var reader = ByteReader(payload)
                let format = try reader.read(UInt8.self)
                let kind = try reader.read(UInt8.self)
                guard format == MetadataRecord.formatVersion else {
                    throw MetadataLogError(.invalidRecord, "unknown checkpoint format \(format)")
                }
                switch kind {
                case headerKind where !sawHeader:
                    let boundary = try reader.read(UInt64.self)
                    let expectedCount = try reader.read(UInt64.self)
                    try reader.expectEnd()
                    // A hint only, so bounded by what the file could hold.
                    state.reserveCapacity(Int(min(expectedCount, UInt64(scanner.size / 64))))
                    guard boundary == sequence else {
                        throw MetadataLogError(.invalidRecord, "header names boundary \(boundary), not \(sequence)")
                    }
                    sawHeader = true
                case trailerKind where sawHeader:
                    let expected = try reader.read(UInt64.self)
                    let highestVersion = try reader.read(UInt64.self)
                    try reader.expectEnd()
                    guard expected == count, next == scanner.size else {
                        throw MetadataLogError(
                            .invalidRecord,
                            "trailer counts \(expected) keys, found \(count), \(scanner.size - next) bytes after it"
                        )
                    }
                    state.apply(.reserveVersions(through: highestVersion))
                    return state
                default:
                    let record = try MetadataRecord(decoding: payload)
                    guard sawHeader, case .commit = record else {
                        throw MetadataLogError(.invalidRecord, "unexpected record kind \(kind)")
                    }
                    state.apply(record)
                    count += 1
                }
            } catch {
                throw MetadataLogError(.corruptLog, "\(path) at offset \(offset): \(error.message)")
            }
            offset = next
        }
    }
}
