#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOCore

/// A failed system call: which call, on which path, and `errno`.
struct FileSystemError: Error {
    var errno: Int32
    var operation: String
    var path: String

    /// `cannot OPERATION PATH: strerror text`.
    var message: String {
        "cannot \(self.operation) \(self.path): \(String(cString: strerror(self.errno)))"
    }
}

/// The blocking POSIX calls behind ``FileObjectStorage``, each retried on `EINTR` and throwing
/// ``FileSystemError`` on failure. Raw pointers stay inside these functions.
enum FileSystem {
    struct Status {
        var isDirectory: Bool
        var isRegularFile: Bool
        var size: Int
    }

    /// The entry at `path`, or nil when there is none (`ENOENT`, or a path component that is
    /// not a directory).
    static func status(_ path: String) throws(FileSystemError) -> Status? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FileSystemError(errno: errno, operation: "stat", path: path)
        }
        return Self.status(info)
    }

    static func openFile(_ path: String, flags: Int32, mode: mode_t = 0, operation: String) throws(FileSystemError) -> Int32 {
        while true {
            let descriptor = open(path, flags | O_CLOEXEC, mode)
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { throw FileSystemError(errno: errno, operation: operation, path: path) }
        }
    }

    static func fileStatus(_ descriptor: Int32, path: String) throws(FileSystemError) -> Status {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileSystemError(errno: errno, operation: "stat", path: path) }
        return Self.status(info)
    }

    static func closeFile(_ descriptor: Int32) {
        // POSIX leaves the descriptor state unspecified after EINTR; Linux has closed it.
        _ = close(descriptor)
    }

    /// Writes every readable byte of `bytes`.
    static func writeAll(_ descriptor: Int32, _ bytes: ByteBuffer, path: String) throws(FileSystemError) {
        let failure: Int32? = bytes.withUnsafeReadableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw FileSystemError(errno: failure, operation: "write", path: path) }
    }

    /// Reads `count` bytes at `offset`, fewer only when the file ends first.
    static func read(_ descriptor: Int32, offset: Int, count: Int, path: String) throws(FileSystemError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        while buffer.readableBytes < count {
            let already = buffer.readableBytes
            var result = 0
            var failure: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - already) { target in
                result = pread(descriptor, target.baseAddress!, count - already, off_t(offset + already))
                if result < 0 { failure = errno }
                return max(result, 0)
            }
            if result < 0 {
                if failure == EINTR { continue }
                throw FileSystemError(errno: failure, operation: "read", path: path)
            }
            if result == 0 { break }
        }
        return buffer
    }

    static func sync(_ descriptor: Int32, path: String) throws(FileSystemError) {
        while fsync(descriptor) != 0 {
            if errno != EINTR { throw FileSystemError(errno: errno, operation: "fsync", path: path) }
        }
    }

    /// Makes the entries of directory `path` (a rename, a new or removed file) durable.
    static func syncDirectory(_ path: String) throws(FileSystemError) {
        let descriptor = try Self.openFile(path, flags: O_RDONLY | O_DIRECTORY, operation: "open directory")
        defer { Self.closeFile(descriptor) }
        try Self.sync(descriptor, path: path)
    }

    /// Creates directory `path`; returns false when something already exists there.
    static func makeDirectory(_ path: String) throws(FileSystemError) -> Bool {
        guard mkdir(path, 0o755) == 0 else {
            if errno == EEXIST { return false }
            throw FileSystemError(errno: errno, operation: "create directory", path: path)
        }
        return true
    }

    static func moveIntoPlace(_ source: String, to target: String) throws(FileSystemError) {
        guard rename(source, target) == 0 else {
            throw FileSystemError(errno: errno, operation: "rename into place", path: target)
        }
    }

    /// Gives the file at `source` the name `target` too, unless `target` exists; returns
    /// whether it did.
    static func linkIntoPlace(_ source: String, at target: String) throws(FileSystemError) -> Bool {
        guard link(source, target) == 0 else {
            if errno == EEXIST { return false }
            throw FileSystemError(errno: errno, operation: "link into place", path: target)
        }
        return true
    }

    /// Removes the file at `path`; returns false when there was none.
    static func removeFile(_ path: String) throws(FileSystemError) -> Bool {
        guard unlink(path) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return false }
            throw FileSystemError(errno: errno, operation: "remove", path: path)
        }
        return true
    }

    /// The names in directory `path` with whether each is a directory, a regular file, or
    /// neither (skipped); nil when the directory does not exist.
    static func entries(of path: String) throws(FileSystemError) -> [(name: String, isDirectory: Bool)]? {
        guard let directory = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FileSystemError(errno: errno, operation: "list", path: path)
        }
        defer { closedir(directory) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw FileSystemError(errno: errno, operation: "list", path: path) }
                return entries
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var isDirectory = Int(entry.pointee.d_type) == DT_DIR
            var isRegularFile = Int(entry.pointee.d_type) == DT_REG
            if Int(entry.pointee.d_type) == DT_UNKNOWN, let status = try Self.status(path + "/" + name) {
                isDirectory = status.isDirectory
                isRegularFile = status.isRegularFile
            }
            if isDirectory || isRegularFile { entries.append((name, isDirectory)) }
        }
    }

    private static func status(_ info: stat) -> Status {
        let type = info.st_mode & S_IFMT
        return Status(isDirectory: type == S_IFDIR, isRegularFile: type == S_IFREG, size: Int(info.st_size))
    }

    /// The current directory, to anchor relative roots once.
    static func currentDirectory() -> String? {
        guard let raw = getcwd(nil, 0) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }
}
