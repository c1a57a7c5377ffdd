import NIOCore
import RESP

extension ClientSession {
    /// The commands a run of which goes to the store as one call.
    private enum RunKind {
        /// `GET key`.
        case get
        /// `SET key value`, without options.
        case set
    }

    private func runKind(of command: [ByteBuffer]) -> RunKind? {
        guard !needsAuthentication, let name = command.first else { return nil }
        if command.count == 2, name.isCommandName("get") { return .get }
        if command.count == 3, name.isCommandName("set") { return .set }
        return nil
    }

    /// Most commands in one run.
    static let longestRun = 16
    /// Replies are handed to `flush` once they pass this many bytes, so a long pipeline of
    /// large values does not gather all its replies in memory first.
    static let replyFlushThreshold = 1 << 20

    /// Runs one read's commands in order and appends their replies. A run of plain GETs goes to
    /// the store as one read of all their keys, pinned at one moment, and a run of plain SETs as
    /// one ``ObjectStore/setEach(_:)``: a pipelining client gets the parallelism of MGET and
    /// MSET, while every command keeps its own reply and SETs still commit in order. Runs are at
    /// most ``longestRun`` long, a run of GETs reads at most about ``replyFlushThreshold`` bytes
    /// of values at a time, and replies past ``replyFlushThreshold`` go to `flush` (which
    /// waits while the client is slow to read) before the next command runs.
    ///
    /// - Returns: How many commands ran (all but those after a QUIT), and whether the
    ///   connection closes.
    mutating func execute(
        pipeline commands: [[ByteBuffer]],
        replies: inout ReplyBuffer,
        flush: (ReplyBuffer) async throws -> Void
    ) async throws -> (executed: Int, outcome: Outcome) {
        var index = 0
        while index < commands.count {
            let kind = runKind(of: commands[index])
            var end = index + 1
            if let kind {
                while end < commands.count, end - index < Self.longestRun, runKind(of: commands[end]) == kind { end += 1 }
            }
            if let kind, end - index > 1 {
                switch kind {
                case .get: index += await getEach(commands[index..<end], replies: &replies)
                case .set:
                    await setEach(commands[index..<end], replies: &replies)
                    index = end
                }
            } else {
                let outcome = await execute(commands[index], replies: &replies)
                index += 1
                if outcome == .close { return (index, .close) }
            }
            if replies.readableBytes >= Self.replyFlushThreshold {
                try await flush(replies)
                replies.clear()
            }
        }
        return (index, .keepOpen)
    }

    /// Answers the run's first GETs whose values fit in ``replyFlushThreshold`` (at least
    /// one), so a run of large values never gathers more than about that much before it is
    /// written; returns how many it answered.
    private mutating func getEach(_ commands: ArraySlice<[ByteBuffer]>, replies: inout ReplyBuffer) async -> Int {
        do {
            let values = try await store.getAll(
                commands.map { $0[1] }, byteLimit: Self.replyFlushThreshold, memory: clientMemory(beside: replies))
            for value in values { writeValue(value, to: &replies) }
            return values.count
        } catch {
            // One by one, so only the GETs that fail get an error.
            var answered = 0
            for command in commands where replies.readableBytes < Self.replyFlushThreshold {
                _ = await execute(command, replies: &replies)
                answered += 1
            }
            return answered
        }
    }

    private func setEach(_ commands: ArraySlice<[ByteBuffer]>, replies: inout ReplyBuffer) async {
        let outcomes = await store.setEach(commands.map { (key: Command.owned($0[1]), value: $0[2]) })
        for outcome in outcomes {
            switch outcome {
            case .success: replies.writeSimpleString("OK")
            case .failure(let error): replies.writeError(Self.errorMessage(error))
            }
        }
    }
}

extension ByteBuffer {
    /// Whether the bytes are `name` (lowercase letters) in any case, without making a string.
    func isCommandName(_ name: StaticString) -> Bool {
        guard readableBytes == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { expected in
            zip(readableBytesView, expected).allSatisfy { $0 | 0x20 == $1 }
        }
    }
}
