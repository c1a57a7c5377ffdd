import CodingBaseline
import Glibc
import InfiniCoding
import InfiniCodingReference
import MallocInterposerSwift

/// The coding microbenchmark: each case runs the Swift API and the same work done by ISA-L or
/// LZ4 called from C, alternating round by round in one process, and keeps each side's best
/// round, so the ratio is not skewed by whatever else the machine is doing.
@main
struct CodingBench {
    static func main() {
        let quick = CommandLine.arguments.contains("--quick")
        var bench = Bench(rounds: quick ? 9 : 5, secondsPerRound: quick ? 0.03 : 0.05)
        let mib = 1 << 20
        let tenFour = geometry(10, 4)

        let geometries = quick ? [tenFour] : [geometry(4, 2), geometry(10, 2), tenFour]
        let sizes = quick ? [mib] : [64 << 10, mib, 16 * mib, 64 * mib]
        for code in geometries {
            for size in sizes {
                let lost = quick ? [2] : Set([1, 2, code.parityShards]).sorted()
                bench.reedSolomon(code, size: size, lostCounts: lost)
            }
        }
        if !quick {
            bench.scalarReference(tenFour, sizes: [64 << 10, mib])
            bench.alignment(tenFour, size: mib)
        }
        bench.chunkPipeline(tenFour, size: mib)
        for size in quick ? [mib] : [64 << 10, mib, 16 * mib] {
            bench.lz4(size: size)
        }
        bench.incompressibleCheck(size: mib)
        bench.allocations(tenFour, size: mib)

        bench.printTable()
        let encode = bench.ratio("RS encode 10+4", size: mib)
        let decode = bench.ratio("RS decode 10+4, 2 lost", size: mib)
        let lz4c = bench.ratio("LZ4 compress, text", size: mib)
        let lz4d = bench.ratio("LZ4 decompress, text", size: mib)
        print("RATIO encode=\(format(encode)) decode=\(format(decode)) lz4c=\(format(lz4c)) lz4d=\(format(lz4d))")
    }
}

func geometry(_ data: Int, _ parity: Int) -> ErasureGeometry {
    try! ErasureGeometry(dataShards: data, parityShards: parity)
}

func format(_ value: Double, digits: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    let decimals = text.split(separator: ".").last?.count ?? 0
    if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    return text
}

func sizeLabel(_ bytes: Int) -> String {
    bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
}

/// Seconds elapsed while `body` runs.
func measure(_ body: () -> Void) -> Double {
    let elapsed = ContinuousClock().measure(body)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

struct Row {
    var name: String
    var size: Int
    /// GB/s (1 GB = 1e9 bytes) of object bytes; nil where there is no C counterpart.
    var c: Double?
    var swift: Double
    var note = ""
}

struct Bench {
    let rounds: Int
    let secondsPerRound: Double
    var rows: [Row] = []
    var notes: [String] = []

    /// Runs both sides `rounds` times, alternating, each round sized to about `secondsPerRound`,
    /// and returns each side's best throughput in GB/s. Each closure runs `iterations` times and
    /// returns the seconds its timed loop took.
    func compare(bytes: Int, c: ((Int) -> Double)?, swift: (Int) -> Double) -> (c: Double?, swift: Double) {
        let probe = max(swift(1), 1e-7)
        let iterations = max(1, Int(secondsPerRound / probe))
        var bestC: Double?
        var bestSwift = 0.0
        for _ in 0..<rounds {
            if let c {
                let rate = Double(bytes) * Double(iterations) / c(iterations) / 1e9
                bestC = max(bestC ?? 0, rate)
            }
            bestSwift = max(bestSwift, Double(bytes) * Double(iterations) / swift(iterations) / 1e9)
        }
        return (bestC, bestSwift)
    }

    mutating func record(_ name: String, size: Int, _ result: (c: Double?, swift: Double), note: String = "") {
        rows.append(Row(name: name, size: size, c: result.c, swift: result.swift, note: note))
        let ratio = result.c.map { " ratio \(format(result.swift / $0))" } ?? ""
        printProgress("\(name) \(sizeLabel(size)): swift \(format(result.swift)) GB/s\(ratio)")
    }

    func ratio(_ name: String, size: Int) -> Double {
        guard let row = rows.first(where: { $0.name == name && $0.size == size }), let c = row.c else { return 0 }
        return row.swift / c
    }

    mutating func reedSolomon(_ code: ErasureGeometry, size: Int, lostCounts: [Int]) {
        let data = code.dataShards
        let fragment = ShardBuffer.paddedLength((size + data - 1) / data)
        let encoded = compare(
            bytes: size,
            c: { CodingBaseline_rsEncode(Int32(data), Int32(code.parityShards), Int32(fragment), $0) },
            swift: { swiftEncode(code, fragment: fragment, iterations: $0, fragmentOffset: 0) }
        )
        record("RS encode \(code)", size: size, encoded)
        for lost in lostCounts {
            let decoded = compare(
                bytes: size,
                c: { CodingBaseline_rsDecode(Int32(data), Int32(code.parityShards), Int32(fragment), Int32(lost), $0) },
                swift: { swiftDecode(code, fragment: fragment, lost: lost, iterations: $0) }
            )
            record("RS decode \(code), \(lost) lost", size: size, decoded)
        }
    }

    mutating func scalarReference(_ code: ErasureGeometry, sizes: [Int]) {
        let scalar = ScalarReedSolomon(dataShards: code.dataShards, parityShards: code.parityShards)
        for size in sizes {
            let fragment = ShardBuffer.paddedLength((size + code.dataShards - 1) / code.dataShards)
            let shards = (0..<code.dataShards).map { SampleData.random(fragment, seed: UInt64($0)) }
            let result = compare(
                bytes: size,
                c: { CodingBaseline_rsEncode(Int32(code.dataShards), Int32(code.parityShards), Int32(fragment), $0) },
                swift: { iterations in
                    measure {
                        for _ in 0..<iterations { blackHole(scalar.parity(for: shards)) }
                    }
                }
            )
            record("RS encode \(code), scalar Swift (no SIMD)", size: size, result)
        }
    }

    mutating func alignment(_ code: ErasureGeometry, size: Int) {
        let fragment = ShardBuffer.paddedLength((size + code.dataShards - 1) / code.dataShards)
        let aligned64 = compare(bytes: size, c: nil) { swiftEncode(code, fragment: fragment, iterations: $0, fragmentOffset: 0) }
        let aligned32 = compare(bytes: size, c: nil) { swiftEncode(code, fragment: fragment, iterations: $0, fragmentOffset: 32) }
        record("RS encode \(code), shards 64-byte aligned", size: size, aligned64)
        record("RS encode \(code), shards 32-byte aligned", size: size, aligned32)
    }

    mutating func chunkPipeline(_ code: ErasureGeometry, size: Int) {
        let object = SampleData.random(size, seed: 11)
        let result = compare(
            bytes: size,
            c: { iterations in
                object.withUnsafeBytes {
                    CodingBaseline_chunkEncode(
                        Int32(code.dataShards), Int32(code.parityShards), $0.baseAddress, Int32(size), iterations
                    )
                }
            },
            swift: { swiftChunkEncode(code, object: object, iterations: $0) }
        )
        record("chunk encode \(code) (split + RS + CRC32C), random data", size: size, result)
        let decoded = compare(bytes: size, c: nil) { swiftChunkDecode(code, object: object, lost: 2, iterations: $0) }
        record("chunk decode \(code), 2 lost (CRC32C + RS + copy)", size: size, decoded)
    }

    mutating func lz4(size: Int) {
        let text = SampleData.text(size, seed: 21)
        var compressedLength: Int32 = 0
        _ = text.withUnsafeBytes { CodingBaseline_lz4Compress($0.baseAddress, Int32(size), 1, &compressedLength) }
        let compressed = compare(
            bytes: size,
            c: { iterations in
                var length: Int32 = 0
                return text.withUnsafeBytes { CodingBaseline_lz4Compress($0.baseAddress, Int32(size), iterations, &length) }
            },
            swift: { swiftCompress(text, iterations: $0).seconds }
        )
        let ratio = Double(compressedLength) / Double(size)
        record("LZ4 compress, text", size: size, compressed, note: "compresses to \(format(ratio * 100, digits: 0))%")
        let block = swiftCompress(text, iterations: 1).block
        let decompressed = compare(
            bytes: size,
            c: { iterations in
                block.withUnsafeBytes {
                    CodingBaseline_lz4Decompress($0.baseAddress, Int32(block.count), Int32(size), iterations)
                }
            },
            swift: { swiftDecompress(block, length: size, iterations: $0) }
        )
        record("LZ4 decompress, text", size: size, decompressed)
    }

    mutating func incompressibleCheck(size: Int) {
        let random = SampleData.random(size, seed: 31)
        let policy = CompressionPolicy.default
        let result = compare(
            bytes: size,
            c: { iterations in
                var length: Int32 = 0
                return random.withUnsafeBytes { CodingBaseline_lz4Compress($0.baseAddress, Int32(size), iterations, &length) }
            },
            swift: { iterations in
                measure {
                    for _ in 0..<iterations { blackHole(policy.looksCompressible(random.span.bytes)) }
                }
            }
        )
        record(
            "incompressible data: Swift sampling check vs C compressing it all",
            size: size,
            result,
            note: "detected: \(!policy.looksCompressible(random.span.bytes))"
        )
    }

    mutating func allocations(_ code: ErasureGeometry, size: Int) {
        let counts = countAllocations(code, size: size, iterations: 100)
        guard let counts else {
            notes.append("Allocation counts unavailable: the malloc interposer is not active in this process.")
            return
        }
        notes.append(
            "Heap allocations per object after warm-up (\(code), \(sizeLabel(size)), 100 objects): "
                + "RS encode \(format(counts.encode, digits: 2)), RS decode \(format(counts.decode, digits: 2)), "
                + "chunk encode \(format(counts.chunkEncode, digits: 2)), chunk decode \(format(counts.chunkDecode, digits: 2))."
        )
        printProgress(notes.last!)
    }

    func printTable() {
        print("")
        print("| case | object | C GB/s | Swift GB/s | Swift ÷ C | note |")
        print("|---|---:|---:|---:|---:|---|")
        for row in rows {
            let c = row.c.map { format($0) } ?? "—"
            let ratio = row.c.map { format(row.swift / $0) } ?? "—"
            print("| \(row.name) | \(sizeLabel(row.size)) | \(c) | \(format(row.swift)) | \(ratio) | \(row.note) |")
        }
        print("")
        for note in notes { print(note) }
        print("")
    }
}

func printProgress(_ line: String) {
    var standardError = StandardError()
    print(line, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
    }
}
