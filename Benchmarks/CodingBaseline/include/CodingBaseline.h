#ifndef CODING_BASELINE_H
#define CODING_BASELINE_H

// The C side of the coding benchmark: ISA-L and LZ4 called directly, the way a C program would,
// so the Swift API can be compared with them in the same process and the same run. Every
// function does its own set-up first and times only the loop, returning seconds.

#include <stddef.h>

/// Reed–Solomon encode of a k+m stripe with `fragment` bytes per shard, `iterations` times.
double CodingBaseline_rsEncode(int k, int m, int fragment, long iterations);

/// Rebuilds `lost` data shards (0..<lost) of a k+m stripe from the next k survivors, with the
/// decoding tables built once before the loop (the best case for C).
double CodingBaseline_rsDecode(int k, int m, int fragment, int lost, long iterations);

/// What a chunk writer does per stripe: copy `length` object bytes into k padded shards,
/// encode parity, CRC32C every shard.
double CodingBaseline_chunkEncode(int k, int m, const void *object, int length, long iterations);

/// LZ4 block compression of `source`, `iterations` times; stores the compressed length.
double CodingBaseline_lz4Compress(const void *source, int length, long iterations, int *compressedLength);

/// LZ4 block decompression (`LZ4_decompress_safe`) of `source` into `length` bytes.
double CodingBaseline_lz4Decompress(const void *source, int compressedLength, int length, long iterations);

#endif
