import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// This process's end of a pipe a child writes to. Closed when released.
public final class PipeReader: Sendable {
    /// What one read gave.
    public enum Chunk: Sendable, Equatable {
        case bytes([UInt8])
        /// Every writer has closed its end.
        case endOfFile
        /// Nothing came within the timeout.
        case timedOut
    }

    private let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Reads what is there, waiting at most `timeout` for something to come.
    public func read(timeout: Duration) -> Chunk {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&request, 1, milliseconds)
        if ready == 0 { return .timedOut }
        if ready < 0 { return errno == EINTR ? .timedOut : .endOfFile }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 { return errno == EINTR || errno == EAGAIN ? .timedOut : .endOfFile }
        if count == 0 { return .endOfFile }
        return .bytes(Array(buffer[..<count]))
    }
}
