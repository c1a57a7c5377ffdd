import Glibc

/// An open file descriptor, closed when the last reference to it goes, so a thread still syncing
/// a segment the writer has moved past keeps a valid descriptor.
final class LogFile: Sendable {
    let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { Glibc.close(descriptor) }

    /// Opens `path` with `open(2)` flags; `O_CLOEXEC` is always added.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(MetadataLogError) -> LogFile {
        let descriptor = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw ioError("open", path) }
        return LogFile(path: path, descriptor: descriptor)
    }

    /// Writes all of `bytes`, continuing after partial writes and interruptions.
    func write(_ bytes: [UInt8]) throws(MetadataLogError) {
        var failure: MetadataLogError?
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let count = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = Self.ioError("write", path)
                    return
                }
                offset += count
            }
        }
        if let failure { throw failure }
    }

    /// Up to `count` bytes from `offset`; fewer only at the end of the file.
    func read(count: Int, at offset: Int) throws(MetadataLogError) -> [UInt8] {
        var failure: MetadataLogError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while initialized < count {
                let read = pread(descriptor, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                if read < 0 {
                    if errno == EINTR { continue }
                    failure = Self.ioError("read", path)
                    return
                }
                if read == 0 { return }
                initialized += read
            }
        }
        if let failure { throw failure }
        return bytes
    }

    var size: Int {
        get throws(MetadataLogError) {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw Self.ioError("fstat", path) }
            return Int(status.st_size)
        }
    }

    func truncate(to length: Int) throws(MetadataLogError) {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw Self.ioError("ftruncate", path) }
    }

    /// `fdatasync(2)`: the data and the file length, which is all an appended log needs.
    func syncData() throws(MetadataLogError) {
        while fdatasync(descriptor) != 0 {
            guard errno == EINTR else { throw Self.ioError("fdatasync", path) }
        }
    }

    /// `fsync(2)`: data and all metadata.
    func sync() throws(MetadataLogError) {
        while fsync(descriptor) != 0 {
            guard errno == EINTR else { throw Self.ioError("fsync", path) }
        }
    }

    /// Takes an exclusive `flock(2)`; false if another open file description still holds it
    /// after about a second.
    ///
    /// The wait is for children: a process this one forks shares its descriptors (and so the
    /// lock) until it calls `exec`, which may be just when a closed log is reopened.
    func tryLock() throws(MetadataLogError) -> Bool {
        for _ in 0..<200 {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK else { throw Self.ioError("flock", path) }
            usleep(5_000)
        }
        return false
    }

    /// An ``MetadataLogError/Code/ioFailure`` naming the call, the file and `errno`.
    static func ioError(_ call: String, _ path: String) -> MetadataLogError {
        let code = errno
        return MetadataLogError(.ioFailure, "\(call) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }
}

/// Directory operations the log needs, with errors that name the path.
enum Directory {
    /// Creates `path` unless it exists.
    static func create(_ path: String) throws(MetadataLogError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw LogFile.ioError("mkdir", path) }
    }

    /// The names of the entries in `path`, without `.` and `..`.
    static func list(_ path: String) throws(MetadataLogError) -> [String] {
        guard let stream = opendir(path) else { throw LogFile.ioError("opendir", path) }
        defer { closedir(stream) }
        var names = [String]()
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes the directory's entries (created, renamed and removed files) durable.
    static func sync(_ path: String) throws(MetadataLogError) {
        try LogFile.open(path, flags: O_RDONLY | O_DIRECTORY).sync()
    }

    static func rename(_ from: String, to: String) throws(MetadataLogError) {
        guard Glibc.rename(from, to) == 0 else { throw LogFile.ioError("rename to \(to)", from) }
    }

    static func remove(_ path: String) throws(MetadataLogError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw LogFile.ioError("unlink", path) }
    }
}
