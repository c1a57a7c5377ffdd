import Foundation
import InfiniCOS
import NIOCore
import ProcessTestSupport
import Testing

/// A fresh directory under the system's temporary directory, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("infinicos-\(UUID())")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

@Suite struct FileObjectStorageTests {
    @Test(arguments: ConformanceCheck.all)
    func conformance(_ check: ConformanceCheck) async throws {
        try await withTemporaryDirectory { root in
            try await check.run(FileObjectStorage(root: root), Namespace(prefix: "", separator: "/"))
        }
    }

    @Test func conformanceUnderANamespace() async throws {
        try await withTemporaryDirectory { root in
            for check in ConformanceCheck.all {
                let prefix = "space/\(check.name.prefix(6).filter(\.isLetter))/"
                try await check.run(FileObjectStorage(root: root), Namespace(prefix: prefix, separator: "/"))
            }
        }
    }

    @Test func leftoverTemporaryFilesAreNotObjects() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            let name = try ObjectName("dir/object")
            try await storage.put(name, bytes: ByteBuffer(string: "durable"))
            // What a crash between creating and renaming a temporary file leaves behind.
            for leftover in ["\(root)/dir/.put 5d1f0a3c9e7b2468", "\(root)/.put 0123456789abcdef"] {
                #expect(FileManager.default.createFile(atPath: leftover, contents: Data("half-writ".utf8)))
            }
            #expect(try await storage.list(prefix: "") == [name])
            #expect(try await storage.list(prefix: "dir/") == [name])
            #expect(try await storage.get(name) == ByteBuffer(string: "durable"))
            try await storage.put(name, bytes: ByteBuffer(string: "rewritten"))
            #expect(try await storage.get(name) == ByteBuffer(string: "rewritten"))
            // A put, and a create (refused or not), leaves no temporary file of its own.
            #expect(try await !storage.create(name, bytes: ByteBuffer(string: "refused")))
            #expect(try await storage.create(ObjectName("dir/created"), bytes: ByteBuffer(string: "new")))
            let entries = try FileManager.default.contentsOfDirectory(atPath: "\(root)/dir").sorted()
            #expect(entries == [".put 5d1f0a3c9e7b2468", "created", "object"])
        }
    }

    @Test func putIntoAReadOnlyDirectoryFailsClearly() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            // Root ignores permission bits, so there the directory is made immutable instead.
            let asRoot = geteuid() == 0
            let lock = asRoot ? ("/usr/bin/chattr", ["+i", root]) : ("/bin/chmod", ["0555", root])
            let unlock = asRoot ? ("/usr/bin/chattr", ["-i", root]) : ("/bin/chmod", ["0755", root])
            #expect(try await runProcessOffThePool(lock.0, lock.1, mergingStandardError: true).status == 0)
            let error = await #expect(throws: ObjectStorageError.self) {
                try await storage.put(ObjectName("object"), bytes: ByteBuffer(string: "x"))
            }
            let reason = String(cString: strerror(asRoot ? EPERM : EACCES))
            #expect(error?.kind == .accessDenied)
            #expect(error?.message.contains(root) == true)
            #expect(error?.message.contains(reason) == true)
            #expect(try await storage.list(prefix: "").isEmpty)
            #expect(try await runProcessOffThePool(unlock.0, unlock.1, mergingStandardError: true).status == 0)
            try await storage.put(ObjectName("object"), bytes: ByteBuffer(string: "x"))
        }
    }

    @Test func missingRootIsAMissingContainer() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root + "/not/there")
            let name = try ObjectName("a/b")
            let putError = await #expect(throws: ObjectStorageError.self) {
                try await storage.put(name, bytes: ByteBuffer(string: "x"))
            }
            #expect(putError?.kind == .missingContainer)
            #expect(putError?.message.contains(root + "/not/there") == true)
            let listError = await #expect(throws: ObjectStorageError.self) { try await storage.list(prefix: "") }
            #expect(listError?.kind == .missingContainer)
            let missing = try await storage.get(name)
            #expect(missing == nil)
        }
    }

    @Test func anObjectCannotAlsoBeADirectory() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            try await storage.put(ObjectName("a"), bytes: ByteBuffer(string: "file"))
            let error = await #expect(throws: ObjectStorageError.self) {
                try await storage.put(ObjectName("a/b"), bytes: ByteBuffer(string: "x"))
            }
            #expect(error?.kind == .invalidName)
            #expect(try await storage.get(ObjectName("a/b")) == nil)
            #expect(try await storage.get(ObjectName("a")) == ByteBuffer(string: "file"))
            // A directory is not an object either.
            try await storage.put(ObjectName("d/e"), bytes: ByteBuffer(string: "x"))
            #expect(try await storage.get(ObjectName("d")) == nil)
            #expect(try await storage.size(of: ObjectName("d")) == nil)
            try await storage.delete(ObjectName("d"))
            #expect(try await storage.list(prefix: "") == [ObjectName("a"), ObjectName("d/e")])
        }
    }

    @Test func allPrintablePunctuationWorksOnDisk() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            let name = try ObjectName("p/!\"#$%&'()*+,-.:;<=>?@[\\]^_`{|}~")
            try await storage.put(name, bytes: ByteBuffer(string: "punctuation"))
            #expect(try await storage.get(name) == ByteBuffer(string: "punctuation"))
            #expect(try await storage.list(prefix: "p/!") == [name])
        }
    }

    @Test func relativeRootIsAnchoredAtTheCurrentDirectory() {
        let storage = FileObjectStorage(root: "some/relative/dir/")
        #expect(storage.root == FileManager.default.currentDirectoryPath + "/some/relative/dir")
    }

    @Test func createMakesTheDirectory() async throws {
        try await withTemporaryDirectory { root in
            let storage = try await FileObjectStorage.create(root: root + "/x/y")
            try await storage.put(ObjectName("k"), bytes: ByteBuffer(string: "v"))
            #expect(FileManager.default.fileExists(atPath: root + "/x/y/k"))
        }
    }
}

@Suite struct StorageLocationTests {
    @Test func parsesTheAcceptedForms() throws {
        #expect(try StorageLocation(parsing: "file:/var/lib/infinistore/cos") == .directory("/var/lib/infinistore/cos"))
        #expect(try StorageLocation(parsing: "file:data/cos") == .directory("data/cos"))
        #expect(try StorageLocation(parsing: "s3://my-bucket") == .s3(bucket: "my-bucket", keyPrefix: ""))
        #expect(try StorageLocation(parsing: "s3://my-bucket/") == .s3(bucket: "my-bucket", keyPrefix: ""))
        #expect(try StorageLocation(parsing: "s3://my.bucket/infini/store") == .s3(bucket: "my.bucket", keyPrefix: "infini/store/"))
        #expect(try StorageLocation(parsing: "s3://b-1/p/") == .s3(bucket: "b-1", keyPrefix: "p/"))
        #expect(try StorageLocation(parsing: "s3://bucket/p").description == "s3://bucket/p")
        #expect(try StorageLocation(parsing: "file:x").description == "file:x")
    }

    @Test(arguments: [
        "", "file:", "/abs/path", "relative", "s3://", "s3:///prefix", "s3://Upper", "s3://ab", "s3://bucket//p",
        "s3://bucket/../p", "http://example.com/bucket", "S3://bucket",
    ])
    func refusesEverythingElse(_ text: String) {
        let error = #expect(throws: ObjectStorageError.self) { try StorageLocation(parsing: text) }
        #expect(error?.kind == .invalidName)
        #expect(error?.message.contains("'\(text)'") == true)
    }

    @Test func opensADirectory() async throws {
        try await withTemporaryDirectory { root in
            let storage = try await StorageLocation(parsing: "file:\(root)/cos").open()
            try await storage.put(ObjectName("k"), bytes: ByteBuffer(string: "v"))
            #expect(try await storage.list(prefix: "") == [ObjectName("k")])
            #expect(FileManager.default.fileExists(atPath: root + "/cos/k"))
        }
    }
}
