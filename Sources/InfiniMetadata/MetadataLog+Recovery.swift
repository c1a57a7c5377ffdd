import Glibc

extension MetadataLog {
    /// Opens the log in `directory` (created if missing), recovers the state its files hold,
    /// and makes it ready for appends.
    ///
    /// - Throws: ``MetadataLogError/Code/directoryInUse`` if another open log holds the
    ///   directory; ``MetadataLogError/Code/corruptLog`` for damage that recovery cannot repair
    ///   without dropping acknowledged records (the message names the file and offset);
    ///   ``MetadataLogError/Code/ioFailure`` if a system call fails.
    public static func open(
        directory: String,
        configuration: Configuration = Configuration()
    ) throws(MetadataLogError) -> (log: MetadataLog, recovery: MetadataRecovery) {
        try Directory.create(directory)
        let lock = try LogFile.open(directory + "/" + LogFileName.lock, flags: O_RDWR | O_CREAT)
        guard try lock.tryLock() else {
            throw MetadataLogError(.directoryInUse, "metadata log \(directory) is already open")
        }
        var notes = [String]()
        var segments = [UInt64]()
        var checkpoints = [UInt64]()
        for name in try Directory.list(directory) {
            switch LogFileName(name) {
            case .segment(let sequence)?: segments.append(sequence)
            case .checkpoint(let sequence)?: checkpoints.append(sequence)
            case .temporaryCheckpoint?:
                try Directory.remove(directory + "/" + name)
                notes.append("removed \(name), a checkpoint a crash left unfinished")
            case nil: break
            }
        }
        segments.sort()

        var state = MetadataState()
        var base: UInt64?
        for sequence in checkpoints.sorted(by: >) {
            let path = LogFileName.checkpoint(sequence).path(in: directory)
            do throws(MetadataLogError) {
                state = try CheckpointFile.read(try LogFile.open(path, flags: O_RDONLY), sequence: sequence)
                base = sequence
                break
            } catch where error.code == .corruptLog {
                notes.append("passed over \(LogFileName.checkpoint(sequence).name): \(error.message)")
            }
        }
        let live = try liveSegments(
            segments,
            after: base,
            damagedCheckpoints: base == nil && !checkpoints.isEmpty,
            in: directory
        )
        // Left by a crash after the checkpoint replacing them was durable.
        for sequence in segments where sequence < live.first ?? .max {
            try Directory.remove(LogFileName.segment(sequence).path(in: directory))
        }
        for sequence in checkpoints where sequence < base ?? 0 {
            try Directory.remove(LogFileName.checkpoint(sequence).path(in: directory))
        }

        var replayed = 0
        var logBytes = 0
        var newest: (file: LogFile, length: Int)?
        for (index, sequence) in live.enumerated() {
            let isLast = index == live.count - 1
            let path = LogFileName.segment(sequence).path(in: directory)
            let file = try LogFile.open(path, flags: isLast ? O_RDWR | O_APPEND : O_RDONLY)
            let replay = try replaySegment(file, into: &state, isLast: isLast)
            // The records were acknowledged before the restart but may still be only in the
            // page cache.
            if configuration.fsync != .never { try file.syncData() }
            replayed += replay.records
            logBytes += replay.length
            if let note = replay.note { notes.append(note) }
            if isLast { newest = (file, replay.length) }
        }
        let segment: LogFile
        if let newest {
            segment = newest.file
        } else {
            let path = LogFileName.segment(1).path(in: directory)
            segment = try LogFile.open(path, flags: O_RDWR | O_APPEND | O_CREAT | O_EXCL)
            try Directory.sync(directory)
        }

        let logState = State(
            segment: segment,
            segmentSequence: live.last ?? 1,
            segmentLength: newest?.length ?? 0,
            lock: lock,
            logBytes: logBytes,
            highestVersion: state.highestVersion
        )
        let log = try MetadataLog(directory: directory, configuration: configuration, state: logState)
        return (log, MetadataRecovery(state: state, replayedRecords: replayed, notes: notes))
    }

    /// The segments to replay: from the checkpoint's boundary (or from segment 1 without one)
    /// to the newest, with none missing.
    private static func liveSegments(
        _ segments: [UInt64],
        after base: UInt64?,
        damagedCheckpoints: Bool,
        in directory: String
    ) throws(MetadataLogError) -> [UInt64] {
        let first = base ?? 1
        let live = segments.filter { $0 >= first }
        let expected = base != nil || !segments.isEmpty || damagedCheckpoints
        if expected, live.first != first {
            let covering = base.map { "after \(LogFileName.checkpoint($0).name)" } ?? "and no checkpoint covers it"
            let why = damagedCheckpoints ? " (every checkpoint is damaged)" : ""
            throw MetadataLogError(
                .corruptLog,
                "metadata log \(directory): \(LogFileName.segment(first).name) is missing \(covering)\(why)"
            )
        }
        for (index, sequence) in live.enumerated() where sequence != first + UInt64(index) {
            throw MetadataLogError(
                .corruptLog,
                "metadata log \(directory): \(LogFileName.segment(first + UInt64(index)).name) is missing"
            )
        }
        return live
    }

    /// Applies every record of one segment. At the end of the newest segment a record cut
    /// short or damaged, with no intact record anywhere after it, is what a crash mid-write
    /// leaves: the file is truncated there. Anything else that is not a whole, valid record is
    /// an error.
    private static func replaySegment(
        _ file: LogFile,
        into state: inout MetadataState,
        isLast: Bool
    ) throws(MetadataLogError) -> (records: Int, length: Int, note: String?) {
        var scanner = try FrameScanner(file)
        let (records, offset, problem) = try scanner.replay(into: &state)
        guard let problem else { return (records, offset, nil) }
        guard isLast else {
            throw MetadataLogError(.corruptLog, "\(file.path) at offset \(offset): \(problem)")
        }
        if let intact = try scanner.firstIntactFrame(after: offset) {
            throw MetadataLogError(
                .corruptLog,
                "\(file.path) at offset \(offset): \(problem), but records follow at offset \(intact); "
                    + "if the machine lost power, truncating the file at \(offset) drops only unsynced records"
            )
        }
        try file.truncate(to: offset)
        let note = "\(file.path): cut a torn record at offset \(offset) (\(scanner.size - offset) bytes): \(problem)"
        return (records, offset, note)
    }
}
