#if canImport(Glibc)
    import Glibc
    import NIOCore
    import RESP
    import Testing

    /// Holds many parsers mid-frame after huge but in-limit announcements. Reserving storage from an
    /// announced count (1 Mi elements, 512 MiB) would cost at least 16 MiB of address space per parser,
    /// 2 GiB in all; virtual size counts such reservations even though their pages are never touched.
    @Suite("Allocation")
    struct RESPAllocationTests {
        static let parserCount = 128
        /// Far above what the parsers legitimately hold, far below what one reservation per parser costs,
        /// with room for allocator arenas and concurrently running tests.
        static let threshold = 512 * 1024 * 1024

        /// The process's virtual size, from the first field of /proc/self/statm (in pages).
        static func heapBytes() -> Int {
            let descriptor = open("/proc/self/statm", O_RDONLY)
            guard descriptor >= 0 else {
                return 0
            }
            defer { close(descriptor) }
            var bytes = [UInt8](repeating: 0, count: 128)
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            let pages = bytes.prefix(max(count, 0)).prefix { $0 != UInt8(ascii: " ") }
            return (Int(String(decoding: pages, as: UTF8.self)) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
        }

        @Test func virtualSizeIsReadable() {
            #expect(Self.heapBytes() > 0)
        }

        @Test func valueParserDoesNotReserveFromAnnouncedLengths() throws {
            let before = Self.heapBytes()
            var parsers: [RESPParser] = []
            var inputs: [ByteBuffer] = []
            for _ in 0..<Self.parserCount {
                var parser = RESPParser()
                var input = buffer("*1048576\r\n%1048576\r\n~1048576\r\n$536870912\r\nab")
                #expect(try parser.next(from: &input) == nil)
                parsers.append(parser)
                inputs.append(input)
            }
            let growth = Self.heapBytes() - before
            #expect(growth < Self.threshold, "heap grew by \(growth) bytes")
            withExtendedLifetime((parsers, inputs)) {}
        }

        @Test func commandParserDoesNotReserveFromAnnouncedLengths() throws {
            let before = Self.heapBytes()
            var parsers: [RESPCommandParser] = []
            var inputs: [ByteBuffer] = []
            for _ in 0..<Self.parserCount {
                var parser = RESPCommandParser()
                var input = buffer("*1048576\r\n$1\r\na\r\n$536870912\r\nab")
                #expect(try parser.next(from: &input) == nil)
                parsers.append(parser)
                inputs.append(input)
            }
            let growth = Self.heapBytes() - before
            #expect(growth < Self.threshold, "heap grew by \(growth) bytes")
            withExtendedLifetime((parsers, inputs)) {}
        }
    }
#endif
