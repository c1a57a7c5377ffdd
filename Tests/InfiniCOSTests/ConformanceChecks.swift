import InfiniCOS
import NIOCore
import Testing

/// `count` bytes from SplitMix64 with a random seed: fast enough for megabytes in a debug build.
func randomBytes(count: Int) -> [UInt8] {
    var state = UInt64.random(in: .min ... .max)
    let words = (0..<(count + 7) / 8).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
    return words.withUnsafeBytes { Array($0.prefix(count)) }
}

/// Where a check puts its objects: under `prefix`, with `separator` between the parts of a
/// name. File storage uses `/`; the S3 runs under moto use `.`, because moto cannot verify the
/// signature of a listing whose prefix contains `/` (see MotoServer).
struct Namespace: Sendable {
    var prefix: String
    var separator: String

    /// The name made of `parts`, under the prefix.
    func callAsFunction(_ parts: String...) throws -> ObjectName {
        try ObjectName(self.prefix + parts.joined(separator: self.separator))
    }

    /// The name's parts after the prefix, joined with `/` again, for readable comparisons.
    func parts(of name: ObjectName) -> String {
        String(name.rawValue.dropFirst(self.prefix.count)).replacing(self.separator, with: "/")
    }
}

/// The behaviour every ``ObjectStorage`` must show, written once and run against each
/// implementation. Each check works under its own ``Namespace``, so checks can share a bucket.
struct ConformanceCheck: Sendable, CustomTestStringConvertible {
    var name: String
    var run: @Sendable (_ storage: any ObjectStorage, _ namespace: Namespace) async throws -> Void

    var testDescription: String { self.name }

    static let all: [ConformanceCheck] = [
        ConformanceCheck(name: "round trip of empty, text, binary and 5 MiB objects") { storage, ns in
            let large = randomBytes(count: 5 << 20)
            let cases: [(ObjectName, [UInt8])] = [
                (try ns("empty"), []),
                (try ns("text"), Array("hello, object storage".utf8)),
                (try ns("dir", "sub", "binary"), Array(0...255) + Array((0...255).reversed())),
                (try ns("large"), large),
            ]
            for (name, bytes) in cases {
                try await storage.put(name, bytes: ByteBuffer(bytes: bytes))
            }
            for (name, bytes) in cases {
                let read = try await storage.get(name)
                #expect(read.map { Array($0.readableBytesView) } == bytes, "\(name)")
                #expect(try await storage.size(of: name) == bytes.count, "\(name)")
            }
        },
        ConformanceCheck(name: "overwrite replaces the whole object") { storage, ns in
            let name = try ns("object")
            try await storage.put(name, bytes: ByteBuffer(string: "a much longer first version"))
            try await storage.put(name, bytes: ByteBuffer(string: "second"))
            #expect(try await storage.get(name) == ByteBuffer(string: "second"))
            #expect(try await storage.size(of: name) == 6)
        },
        ConformanceCheck(name: "a missing object reads as nil") { storage, ns in
            let name = try ns("never", "written")
            #expect(try await storage.get(name) == nil)
            #expect(try await storage.get(name, range: 0..<10) == nil)
            #expect(try await storage.get(name, range: 5..<5) == nil)
            #expect(try await storage.size(of: name) == nil)
        },
        ConformanceCheck(name: "ranges read only their bytes and clamp to the end") { storage, ns in
            let bytes = (0..<100).map { UInt8($0) }
            let name = try ns("ranged")
            try await storage.put(name, bytes: ByteBuffer(bytes: bytes))
            let cases: [(Range<Int>, ArraySlice<UInt8>)] = [
                (0..<10, bytes[0..<10]),
                (40..<60, bytes[40..<60]),
                (90..<100, bytes[90..<100]),
                (90..<200, bytes[90..<100]),
                (0..<100, bytes[0..<100]),
                (99..<100, bytes[99..<100]),
                (100..<150, []),
                (150..<200, []),
                (7..<7, []),
            ]
            for (range, expected) in cases {
                let read = try await storage.get(name, range: range)
                #expect(read.map { Array($0.readableBytesView) } == Array(expected), "range \(range)")
            }
            let empty = try ns("empty")
            try await storage.put(empty, bytes: ByteBuffer())
            #expect(try await storage.get(empty, range: 0..<10) == ByteBuffer())
        },
        ConformanceCheck(name: "delete removes, and deleting again is fine") { storage, ns in
            let name = try ns("doomed")
            try await storage.put(name, bytes: ByteBuffer(string: "bye"))
            try await storage.delete(name)
            #expect(try await storage.get(name) == nil)
            #expect(try await storage.size(of: name) == nil)
            #expect(try await storage.list(prefix: ns.prefix).isEmpty)
            try await storage.delete(name)
            try await storage.delete(ns("never", "was"))
        },
        ConformanceCheck(name: "deleting many removes each of them, and only them") { storage, ns in
            let doomed = try [ns("x"), ns("y", "1"), ns("y", "2")]
            let kept = try ns("y", "3")
            for name in doomed + [kept] { try await storage.put(name, bytes: ByteBuffer(string: name.rawValue)) }
            try await storage.delete(doomed + [ns("never", "was")])
            try await storage.delete([ObjectName]())
            #expect(try await storage.list(prefix: ns.prefix) == [kept])
        },
        ConformanceCheck(name: "list by prefix in byte order") { storage, ns in
            let names = try [ns("b"), ns("a", "2"), ns("ab"), ns("a", "b", "3"), ns("a", "1"), ns("a-c"), ns("A")]
            for name in names {
                try await storage.put(name, bytes: ByteBuffer(string: name.rawValue))
            }
            let s = ns.separator
            for prefix in ["", "a\(s)", "a", "a\(s)b", "a\(s)b\(s)3", "a\(s)b\(s)3\(s)", "zzz", "a\(s)\(s)", "A"] {
                let listed = try await storage.list(prefix: ns.prefix + prefix)
                let expected = names.filter { $0.rawValue.hasPrefix(ns.prefix + prefix) }.sorted()
                #expect(listed.map(ns.parts) == expected.map(ns.parts), "prefix '\(prefix)'")
            }
            let all = try await storage.list(prefix: ns.prefix).map(ns.parts)
            #expect(all.count == names.count)
            #expect(all == all.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        },
        ConformanceCheck(name: "names with punctuation") { storage, ns in
            // Characters moto's signature check also accepts; see MotoServer.
            let names = try [ns("odd", "x-_.~y"), ns("odd", "q?s"), ns("odd", "h#sh"), ns("odd", ".dot")]
            for name in names {
                try await storage.put(name, bytes: ByteBuffer(string: name.rawValue))
            }
            for name in names {
                #expect(try await storage.get(name) == ByteBuffer(string: name.rawValue), "\(name)")
            }
            #expect(try await storage.list(prefix: ns.prefix + "odd" + ns.separator) == names.sorted())
        },
        ConformanceCheck(name: "create writes only where there is no object, and one of two racing creates wins") { storage, ns in
            let name = try ns("created", "once")
            #expect(try await storage.create(name, bytes: ByteBuffer(string: "first")))
            #expect(try await !storage.create(name, bytes: ByteBuffer(string: "second")))
            #expect(try await storage.get(name) == ByteBuffer(string: "first"))
            try await storage.delete(name)
            #expect(try await storage.create(name, bytes: ByteBuffer(string: "after the delete")))
            #expect(try await storage.get(name) == ByteBuffer(string: "after the delete"))

            let raced = try ns("raced")
            let winners = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<6 {
                    group.addTask { (index, try await storage.create(raced, bytes: ByteBuffer(string: "creator \(index)"))) }
                }
                return try await group.reduce(into: [Int]()) { winners, outcome in if outcome.1 { winners.append(outcome.0) } }
            }
            #expect(winners.count == 1, "creates that succeeded: \(winners)")
            if let winner = winners.first { #expect(try await storage.get(raced) == ByteBuffer(string: "creator \(winner)")) }
            #expect(try await storage.list(prefix: ns.prefix).count == 2, "creates left objects other than theirs")
        },
        ConformanceCheck(name: "concurrent writers: the reader sees one whole version") { storage, ns in
            let name = try ns("contended")
            let versions = (0..<8).map { index in ByteBuffer(repeating: UInt8(index), count: 64 * 1024) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for version in versions {
                    group.addTask { try await storage.put(name, bytes: version) }
                }
                group.addTask {
                    for _ in 0..<8 {
                        if let read = try await storage.get(name) {
                            #expect(versions.contains(read), "a read mixed versions")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(versions.contains(try #require(await storage.get(name))))
        },
    ]
}

@Suite struct ObjectNameTests {
    @Test(arguments: [
        "", "/a", "a/", "a//b", "./a", "a/../b", "..", ".", "a b", "tab\there", "é", "a\u{7F}",
        String(repeating: "x", count: 1025),
    ])
    func invalidNamesAreRefused(_ text: String) {
        let error = #expect(throws: ObjectStorageError.self) { try ObjectName(text) }
        #expect(error?.kind == .invalidName)
    }

    @Test(arguments: ["...", ".a/..b", "a/b.", "chunks/0a/10-0-1"])
    func unusualButValidNamesAreAccepted(_ text: String) throws {
        #expect(try ObjectName(text).rawValue == text)
    }

    @Test func longestNameIsAccepted() throws {
        #expect(try ObjectName(String(repeating: "x", count: 1024)).rawValue.count == 1024)
    }
}
