#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import NIOCore
public import NIOPosix

/// ``ObjectStorage`` in a directory on local disk: the embedded default.
///
/// An object is the file at `root/NAME`; the `/`s in a name are subdirectories, created as
/// needed and left in place when emptied. A `put` writes a temporary file beside the target
/// (its name has a space, which no ``ObjectName`` has, so it is never taken for an object),
/// syncs it, renames it over the target and syncs the directory: readers and a crash see the
/// old bytes or the new. Since `a` and `a/b` would need a file and a directory at one path,
/// only one of them can exist here.
///
/// Every call runs its blocking I/O on a ``NIOThreadPool``, never on Swift's cooperative pool.
public struct FileObjectStorage: ObjectStorage {
    /// The directory holding the objects, as an absolute path.
    public let root: String
    private let threadPool: NIOThreadPool

    /// Storage in `root` (relative paths are taken from the current directory now). Nothing
    /// is touched on disk; see ``create(root:threadPool:)`` to make the directory.
    public init(root: String, threadPool: NIOThreadPool = .singleton) {
        var absolute = root
        if !root.hasPrefix("/"), let current = FileSystem.currentDirectory() {
            absolute = current + "/" + root
        }
        while absolute.count > 1, absolute.hasSuffix("/") { absolute.removeLast() }
        self.root = absolute
        self.threadPool = threadPool
    }

    /// Storage in `root`, creating the directory and its parents when missing.
    public static func create(root: String, threadPool: NIOThreadPool = .singleton) async throws -> FileObjectStorage {
        let storage = FileObjectStorage(root: root, threadPool: threadPool)
        try await storage.run(name: nil) {
            var path = ""
            for component in storage.root.split(separator: "/") {
                path += "/" + component
                _ = try FileSystem.makeDirectory(path)
            }
            guard try FileSystem.status(storage.root)?.isDirectory == true else {
                throw FileSystemError(errno: ENOTDIR, operation: "use as storage directory", path: storage.root)
            }
        }
        return storage
    }

    public func put(_ name: ObjectName, bytes: ByteBuffer) async throws {
        _ = try await self.write(name, bytes: bytes, replacing: true)
    }

    public func create(_ name: ObjectName, bytes: ByteBuffer) async throws -> Bool {
        try await self.write(name, bytes: bytes, replacing: false)
    }

    /// Writes and syncs a temporary file beside the object, then moves it into place: renamed
    /// over any object there, or, when not `replacing`, linked only if there is none (`link`
    /// refuses an existing name atomically). Returns whether the object was written.
    private func write(_ name: ObjectName, bytes: ByteBuffer, replacing: Bool) async throws -> Bool {
        try await self.run(name: name) {
            let target = self.path(of: name)
            let directory = Self.parent(of: target)
            let temporary = directory + "/.put " + String(UInt64.random(in: .min ... .max), radix: 16)
            let descriptor: Int32
            do {
                descriptor = try self.createExclusive(temporary)
            } catch let error as FileSystemError where error.errno == ENOENT {
                try self.makeDirectories(for: name)
                descriptor = try self.createExclusive(temporary)
            }
            do {
                defer { FileSystem.closeFile(descriptor) }
                try FileSystem.writeAll(descriptor, bytes, path: temporary)
                try FileSystem.sync(descriptor, path: temporary)
            } catch {
                _ = try? FileSystem.removeFile(temporary)
                throw error
            }
            let written: Bool
            do {
                if replacing {
                    try FileSystem.moveIntoPlace(temporary, to: target)
                    written = true
                } else {
                    written = try FileSystem.linkIntoPlace(temporary, at: target)
                    _ = try FileSystem.removeFile(temporary)
                }
            } catch {
                _ = try? FileSystem.removeFile(temporary)
                throw error
            }
            if written { try FileSystem.syncDirectory(directory) }
            return written
        }
    }

    public func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer? {
        try await self.run(name: name) { () throws -> ByteBuffer? in
            let path = self.path(of: name)
            let descriptor: Int32
            do {
                descriptor = try FileSystem.openFile(path, flags: O_RDONLY, operation: "open")
            } catch let error as FileSystemError where error.errno == ENOENT || error.errno == ENOTDIR {
                return nil
            }
            defer { FileSystem.closeFile(descriptor) }
            let status = try FileSystem.fileStatus(descriptor, path: path)
            guard status.isRegularFile else { return nil }
            let range = range ?? 0..<status.size
            let start = min(max(range.lowerBound, 0), status.size)
            let end = min(max(range.upperBound, start), status.size)
            return try FileSystem.read(descriptor, offset: start, count: end - start, path: path)
        }
    }

    public func size(of name: ObjectName) async throws -> Int? {
        try await self.run(name: name) { () throws(FileSystemError) -> Int? in
            guard let status = try FileSystem.status(self.path(of: name)), status.isRegularFile else { return nil }
            return status.size
        }
    }

    public func delete(_ name: ObjectName) async throws {
        try await self.run(name: name) {
            let path = self.path(of: name)
            guard try FileSystem.status(path)?.isRegularFile == true else { return }
            if try FileSystem.removeFile(path) {
                try FileSystem.syncDirectory(Self.parent(of: path))
            }
        }
    }

    public func list(prefix: String) async throws -> [ObjectName] {
        try await self.run(name: nil) { () throws(FileSystemError) -> [ObjectName] in
            // Start in the deepest directory the prefix names; no valid name lies elsewhere.
            let directoryPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
            if !directoryPart.isEmpty, (try? ObjectName(directoryPart)) == nil { return [] }
            guard try FileSystem.status(self.root)?.isDirectory == true else {
                throw FileSystemError(errno: ENOENT, operation: "list", path: self.root)
            }
            var names: [ObjectName] = []
            try self.collect(
                directory: directoryPart.isEmpty ? self.root : self.root + "/" + directoryPart,
                relative: directoryPart.isEmpty ? "" : directoryPart + "/",
                prefix: prefix,
                into: &names
            )
            return names.sorted()
        }
    }

    // MARK: - Paths and helpers

    private func path(of name: ObjectName) -> String {
        self.root + "/" + name.rawValue
    }

    private static func parent(of path: String) -> String {
        String(path[..<path.lastIndex(of: "/")!])
    }

    private func createExclusive(_ path: String) throws(FileSystemError) -> Int32 {
        try FileSystem.openFile(path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644, operation: "create")
    }

    /// Creates the directories between the root and the object, syncing each parent that
    /// gained an entry so the new path survives a crash.
    private func makeDirectories(for name: ObjectName) throws(FileSystemError) {
        guard try FileSystem.status(self.root)?.isDirectory == true else {
            throw FileSystemError(errno: ENOENT, operation: "write into", path: self.root)
        }
        var path = self.root
        for component in name.rawValue.split(separator: "/").dropLast() {
            let parent = path
            path += "/" + component
            if try FileSystem.makeDirectory(path) {
                try FileSystem.syncDirectory(parent)
            }
        }
    }

    private func collect(
        directory: String,
        relative: String,
        prefix: String,
        into names: inout [ObjectName]
    ) throws(FileSystemError) {
        guard let entries = try FileSystem.entries(of: directory) else { return }
        for entry in entries {
            let name = relative + entry.name
            // Entries that cannot be names (temporary files) are not objects.
            guard let objectName = try? ObjectName(name) else { continue }
            if entry.isDirectory {
                let subdirectory = name + "/"
                if subdirectory.hasPrefix(prefix) || prefix.hasPrefix(subdirectory) {
                    try self.collect(directory: directory + "/" + entry.name, relative: subdirectory, prefix: prefix, into: &names)
                }
            } else if name.hasPrefix(prefix) {
                names.append(objectName)
            }
        }
    }

    /// Runs `body` on the thread pool and turns system errors into ``ObjectStorageError``s.
    private func run<Result: Sendable>(
        name: ObjectName?,
        _ body: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        do {
            return try await self.threadPool.runIfActive(body)
        } catch let error as FileSystemError {
            throw Self.storageError(error, name: name)
        }
    }

    static func storageError(_ error: FileSystemError, name: ObjectName?) -> ObjectStorageError {
        let kind: ObjectStorageError.Kind
        switch error.errno {
        case EACCES, EPERM, EROFS:
            kind = .accessDenied
        case ENOENT:
            kind = .missingContainer
        case ENAMETOOLONG, ENOTDIR, EISDIR:
            kind = .invalidName
        default:
            kind = .unavailable
        }
        var message = "file storage: \(error.message)"
        if kind == .invalidName, let name {
            message += " (object '\(name)' clashes with another object's path or is too long for this file system)"
        }
        return ObjectStorageError(kind, message)
    }
}
