/// A plain-Swift Reed–Solomon code over GF(2^8), one byte at a time, with no SIMD and no ISA-L.
///
/// It is written independently of ISA-L (its own field tables, matrix generation and
/// Gauss–Jordan inversion) to serve as the oracle the tests check ISA-L's output against, and as
/// the "no SIMD" row of the coding benchmark. It uses the same generator as `ReedSolomon`:
/// identity on top, Cauchy rows `1 / (i ⊕ j)` below, all ones when there is one data shard.
public struct ScalarReedSolomon: Sendable {
    public let dataShards: Int
    public let parityShards: Int
    /// `(d+p) × d` generator, row-major.
    public let generator: [UInt8]

    public init(dataShards: Int, parityShards: Int) {
        precondition(dataShards >= 1 && parityShards >= 0 && dataShards + parityShards <= 256)
        self.dataShards = dataShards
        self.parityShards = parityShards
        var generator = [UInt8](repeating: 0, count: (dataShards + parityShards) * dataShards)
        for row in 0..<(dataShards + parityShards) {
            for column in 0..<dataShards {
                let value: UInt8
                if row < dataShards {
                    value = row == column ? 1 : 0
                } else if dataShards == 1 {
                    value = 1
                } else {
                    value = GaloisField.inverse(UInt8(row ^ column))
                }
                generator[row * dataShards + column] = value
            }
        }
        self.generator = generator
    }

    /// The parity shards for `data` (`dataShards` shards of equal length).
    public func parity(for data: [[UInt8]]) -> [[UInt8]] {
        precondition(data.count == dataShards)
        let length = data.first?.count ?? 0
        return (dataShards..<(dataShards + parityShards)).map { row in
            multiply(row: Array(generator[row * dataShards..<(row + 1) * dataShards]), sources: data, length: length)
        }
    }

    /// All `d + p` shards rebuilt from `shards`, where missing shards are `nil` and at least
    /// `dataShards` are present; `nil` if too few are present.
    public func reconstruct(_ shards: [[UInt8]?]) -> [[UInt8]]? {
        precondition(shards.count == dataShards + parityShards)
        let present = shards.indices.filter { shards[$0] != nil }.prefix(dataShards)
        guard present.count == dataShards else { return nil }
        let length = shards[present.first!]!.count
        var selected = [[UInt8]]()
        for row in present { selected.append(Array(generator[row * dataShards..<(row + 1) * dataShards])) }
        guard let inverse = GaloisField.invert(selected) else { return nil }
        let sources = present.map { shards[$0]! }
        let data = (0..<dataShards).map { multiply(row: inverse[$0], sources: sources, length: length) }
        return data + parity(for: data)
    }

    private func multiply(row: [UInt8], sources: [[UInt8]], length: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        for (coefficient, source) in zip(row, sources) where coefficient != 0 {
            for index in 0..<length {
                output[index] ^= GaloisField.multiply(coefficient, source[index])
            }
        }
        return output
    }
}

/// GF(2^8) with the polynomial x⁸ + x⁴ + x³ + x² + 1 (0x11D), ISA-L's field.
public enum GaloisField {
    private static let tables: (exp: [UInt8], log: [Int]) = {
        var exp = [UInt8](repeating: 0, count: 512)
        var log = [Int](repeating: 0, count: 256)
        var value = 1
        for power in 0..<255 {
            exp[power] = UInt8(value)
            log[value] = power
            value <<= 1
            if value & 0x100 != 0 { value ^= 0x11D }
        }
        for power in 255..<512 { exp[power] = exp[power - 255] }
        return (exp, log)
    }()

    public static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        guard a != 0, b != 0 else { return 0 }
        return tables.exp[tables.log[Int(a)] + tables.log[Int(b)]]
    }

    public static func inverse(_ a: UInt8) -> UInt8 {
        precondition(a != 0, "zero has no inverse")
        return tables.exp[255 - tables.log[Int(a)]]
    }

    /// The inverse of a square matrix by Gauss–Jordan elimination, or `nil` if it is singular.
    public static func invert(_ matrix: [[UInt8]]) -> [[UInt8]]? {
        let size = matrix.count
        var left = matrix
        var right = (0..<size).map { row in (0..<size).map { $0 == row ? UInt8(1) : 0 } }
        for column in 0..<size {
            guard let pivot = (column..<size).first(where: { left[$0][column] != 0 }) else { return nil }
            left.swapAt(column, pivot)
            right.swapAt(column, pivot)
            let scale = inverse(left[column][column])
            for k in 0..<size {
                left[column][k] = multiply(left[column][k], scale)
                right[column][k] = multiply(right[column][k], scale)
            }
            for row in 0..<size where row != column && left[row][column] != 0 {
                let factor = left[row][column]
                for k in 0..<size {
                    left[row][k] ^= multiply(factor, left[column][k])
                    right[row][k] ^= multiply(factor, right[column][k])
                }
            }
        }
        return right
    }
}
