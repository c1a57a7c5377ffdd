import Glibc
import InfiniMetadata
import MetadataTestSupport

/// Appends commit records to a metadata log until it is killed, writing each record's version
/// to standard output (one line, unbuffered) after `append` returns; the crash test checks that
/// every version it saw survives a SIGKILL. Checkpoints are written on a background task as the
/// log asks for them, so a kill can land in the middle of one.
///
/// With RECORDS, it stops after that many appends and sleeps until killed, so the kill lands
/// right after the last report rather than anywhere in the loop.
///
/// Usage: `metadata-log-writer DIRECTORY always|everySecond|never CHECKPOINT-BYTES KEY-COUNT [RECORDS]`
@main
struct MetadataLogWriter {
    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count == 5 || arguments.count == 6, let policy = policy(arguments[2]),
            let threshold = Int(arguments[3]), let keyCount = UInt64(arguments[4]), keyCount > 0
        else {
            fail("usage: metadata-log-writer DIRECTORY always|everySecond|never CHECKPOINT-BYTES KEY-COUNT [RECORDS]")
        }
        let records = arguments.count == 6 ? Int(arguments[5]) ?? 0 : Int.max
        do {
            let (log, recovery) = try MetadataLog.open(
                directory: arguments[1],
                configuration: .init(fsync: policy, checkpointThreshold: threshold)
            )
            var state = recovery.state
            var version = state.highestVersion
            for _ in 0..<records {
                version += 1
                let record = MetadataRecord.commit(
                    key: sampleKey(version: version, keyCount: keyCount),
                    entry: sampleMetadata(version: version)
                )
                try await log.append(record)
                state.apply(record)
                report("\(version)\n")
                if log.needsCheckpoint {
                    let boundary = try log.beginCheckpoint()
                    let snapshot = state.entries
                    Task.detached {
                        do {
                            try log.writeCheckpoint(snapshot, at: boundary)
                        } catch {
                            fail("metadata-log-writer: checkpoint failed: \(error)")
                        }
                    }
                }
            }
            while true { try await Task.sleep(for: .seconds(60)) }
        } catch {
            fail("metadata-log-writer: \(error)")
        }
    }

    static func policy(_ name: String) -> MetadataLog.FsyncPolicy? {
        switch name {
        case "always": .always
        case "everySecond": .everySecond
        case "never": .never
        default: nil
        }
    }

    /// Writes straight to file descriptor 1, so nothing waits in a buffer when the kill comes.
    static func report(_ line: String) {
        guard write(line, to: 1) else { fail("metadata-log-writer: standard output closed") }
    }

    static func fail(_ message: String) -> Never {
        _ = write(message + "\n", to: 2)
        exit(1)
    }

    private static func write(_ text: String, to descriptor: Int32) -> Bool {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, bytes.count - offset) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }
}
