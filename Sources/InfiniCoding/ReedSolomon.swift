import CISAL
import Synchronization

/// Systematic Reed–Solomon over GF(2^8) with Intel ISA-L.
///
/// The generator is ISA-L's Cauchy matrix (identity on top, `1 / (i ⊕ j)` below), so every
/// square selection of rows is invertible and any `dataShards` chunks rebuild the rest. With one
/// data shard the parity rows are all ones: every chunk is a plain replica, which is how small
/// objects are replicated. Tables are built once per code; inverses for each erasure pattern are
/// cached, so steady-state encoding and decoding allocate nothing.
public struct ReedSolomon: Sendable {
    public let geometry: ErasureGeometry
    /// `(d+p) × d` generator, row-major.
    private let generator: [UInt8]
    /// ISA-L's expanded multiplication tables for the parity rows (`32 · d · p` bytes).
    private let encodingTables: [UInt8]
    private let decodingTables: DecodingTableCache

    public init(geometry: ErasureGeometry) {
        let data = geometry.dataShards
        let total = geometry.totalShards
        var generator = [UInt8](repeating: 0, count: total * data)
        if data == 1 {
            for row in 0..<total { generator[row] = 1 }
        } else {
            gf_gen_cauchy1_matrix(&generator, Int32(total), Int32(data))
        }
        var tables = [UInt8](repeating: 0, count: 32 * data * geometry.parityShards)
        if geometry.parityShards > 0 {
            generator.withUnsafeMutableBufferPointer { matrix in
                ec_init_tables(Int32(data), Int32(geometry.parityShards), matrix.baseAddress! + data * data, &tables)
            }
        }
        self.geometry = geometry
        self.generator = generator
        self.encodingTables = tables
        self.decodingTables = DecodingTableCache()
    }

    /// The code for `geometry`, built once per process and shared.
    public static func code(for geometry: ErasureGeometry) -> ReedSolomon {
        if let code = sharedCodes.withLock({ $0[geometry] }) { return code }
        let code = ReedSolomon(geometry: geometry)
        return sharedCodes.withLock { codes in
            if let existing = codes[geometry] { return existing }
            codes[geometry] = code
            return code
        }
    }

    /// Row `row` of the generator matrix: the coefficients that produce shard `row` from the data.
    public func generatorRow(_ row: Int) -> [UInt8] {
        let data = geometry.dataShards
        return Array(generator[row * data..<(row + 1) * data])
    }

    /// Computes the parity shards from the data shards, in place.
    public func encode(_ shards: inout ShardBuffer) {
        precondition(shards.shardCount == geometry.totalShards, "shard buffer does not match the geometry")
        let length = shards.shardLength
        guard geometry.parityShards > 0, length > 0 else { return }
        if geometry.dataShards == 1 {
            let source = shards.shardAddress(0)
            for parity in 1..<geometry.totalShards {
                shards.shardAddress(parity).copyMemory(from: source, byteCount: length)
            }
            return
        }
        encodingTables.withUnsafeBufferPointer { tables in
            Self.multiply(
                tables: tables,
                sources: ShardMask(first: geometry.dataShards),
                targets: ShardMask(first: geometry.totalShards).subtracting(ShardMask(first: geometry.dataShards)),
                dataShards: geometry.dataShards,
                shards: &shards
            )
        }
    }

    /// Rebuilds the shards in `rebuild` that are not in `present`, from any `dataShards` of the
    /// present ones, in place.
    ///
    /// - Throws: ``CodingError/Code/tooFewChunks`` when fewer than `dataShards` shards are present.
    public func reconstruct(_ shards: inout ShardBuffer, present: ShardMask, rebuild: ShardMask) throws(CodingError) {
        precondition(shards.shardCount == geometry.totalShards, "shard buffer does not match the geometry")
        let valid = present.intersection(geometry.allShards)
        let targets = rebuild.intersection(geometry.allShards).subtracting(valid)
        guard !targets.isEmpty else { return }
        guard valid.count >= geometry.dataShards else {
            throw CodingError(
                .tooFewChunks,
                "cannot decode: \(valid.count) of \(geometry.totalShards) chunks available, \(geometry.dataShards) needed"
            )
        }
        let length = shards.shardLength
        guard length > 0 else { return }
        let survivors = valid.lowest(geometry.dataShards)
        if geometry.dataShards == 1 {
            let source = shards.shardAddress(survivors.first(where: { _ in true })!)
            for target in targets { shards.shardAddress(target).copyMemory(from: source, byteCount: length) }
            return
        }
        let tables = decodingTables.tables(survivors: survivors, targets: targets) {
            decodingTables(survivors: survivors, targets: targets)
        }
        tables.withUnsafeBufferPointer { tables in
            Self.multiply(
                tables: tables,
                sources: survivors,
                targets: targets,
                dataShards: geometry.dataShards,
                shards: &shards
            )
        }
    }

    /// Runs ISA-L's table-driven matrix multiply from the `sources` shards into the `targets` shards.
    private static func multiply(
        tables: UnsafeBufferPointer<UInt8>,
        sources: ShardMask,
        targets: ShardMask,
        dataShards: Int,
        shards: inout ShardBuffer
    ) {
        let length = Int32(shards.shardLength)
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt8>?.self, capacity: ErasureGeometry.maximumShards) {
            pointers in
            var slot = 0
            for index in sources {
                pointers[slot] = shards.shardAddress(index).assumingMemoryBound(to: UInt8.self)
                slot += 1
            }
            for index in targets {
                pointers[slot] = shards.shardAddress(index).assumingMemoryBound(to: UInt8.self)
                slot += 1
            }
            ec_encode_data(
                length,
                Int32(dataShards),
                Int32(targets.count),
                UnsafeMutablePointer(mutating: tables.baseAddress!),
                pointers.baseAddress!,
                pointers.baseAddress! + dataShards
            )
        }
    }

    /// Expanded tables that produce `targets` from `survivors`: rows of the inverse of the
    /// survivors' generator rows for data targets, that inverse times the generator row for
    /// parity targets.
    private func decodingTables(survivors: ShardMask, targets: ShardMask) -> [UInt8] {
        let data = geometry.dataShards
        var selected = [UInt8](repeating: 0, count: data * data)
        for (row, survivor) in survivors.enumerated() {
            for column in 0..<data { selected[row * data + column] = generator[survivor * data + column] }
        }
        var inverse = [UInt8](repeating: 0, count: data * data)
        let status = gf_invert_matrix(&selected, &inverse, Int32(data))
        precondition(status == 0, "a Cauchy submatrix is always invertible")

        var rows = [UInt8](repeating: 0, count: data * targets.count)
        for (row, target) in targets.enumerated() {
            for column in 0..<data {
                if target < data {
                    rows[row * data + column] = inverse[target * data + column]
                } else {
                    var sum: UInt8 = 0
                    for k in 0..<data { sum ^= gf_mul(generator[target * data + k], inverse[k * data + column]) }
                    rows[row * data + column] = sum
                }
            }
        }
        var tables = [UInt8](repeating: 0, count: 32 * data * targets.count)
        ec_init_tables(Int32(data), Int32(targets.count), &rows, &tables)
        return tables
    }
}

private let sharedCodes = Mutex<[ErasureGeometry: ReedSolomon]>([:])

/// Decoding tables per erasure pattern. Building them inverts a `d × d` matrix, which costs more
/// than decoding a small stripe, and the number of patterns seen in practice is small.
final class DecodingTableCache: Sendable {
    private struct Pattern: Hashable {
        let survivors: UInt64
        let targets: UInt64
    }

    /// Bounds memory if a pathological client cycles through many patterns (10+4 has 1,001
    /// survivor sets alone); on overflow the cache simply starts over.
    static let capacity = 4096

    private let entries = Mutex<[Pattern: [UInt8]]>([:])

    func tables(survivors: ShardMask, targets: ShardMask, build: () -> [UInt8]) -> [UInt8] {
        let pattern = Pattern(survivors: survivors.rawValue, targets: targets.rawValue)
        if let tables = entries.withLock({ $0[pattern] }) { return tables }
        let tables = build()
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[pattern] = tables
        }
        return tables
    }
}
