#include "CodingBaseline.h"

#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill_random(unsigned char *bytes, size_t length, uint64_t seed) {
    uint64_t state = seed | 1;
    for (size_t i = 0; i < length; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes[i] = (unsigned char)state;
    }
}

/// k+m shards of `fragment` bytes each, 64-byte aligned, filled with random bytes.
static unsigned char **alloc_shards(int count, int fragment) {
    unsigned char **shards = malloc(sizeof(unsigned char *) * (size_t)count);
    for (int i = 0; i < count; i++) {
        shards[i] = aligned_alloc(64, ((size_t)fragment + 63) / 64 * 64);
        fill_random(shards[i], (size_t)fragment, (uint64_t)i + 1);
    }
    return shards;
}

static void free_shards(unsigned char **shards, int count) {
    for (int i = 0; i < count; i++) free(shards[i]);
    free(shards);
}

double CodingBaseline_rsEncode(int k, int m, int fragment, long iterations) {
    int n = k + m;
    unsigned char *matrix = malloc((size_t)n * (size_t)k);
    unsigned char *tables = malloc(32 * (size_t)k * (size_t)m);
    gf_gen_cauchy1_matrix(matrix, n, k);
    ec_init_tables(k, m, &matrix[k * k], tables);
    unsigned char **shards = alloc_shards(n, fragment);

    double start = now();
    for (long i = 0; i < iterations; i++) ec_encode_data(fragment, k, m, tables, shards, &shards[k]);
    double elapsed = now() - start;

    free_shards(shards, n);
    free(tables);
    free(matrix);
    return elapsed;
}

double CodingBaseline_rsDecode(int k, int m, int fragment, int lost, long iterations) {
    int n = k + m;
    unsigned char *matrix = malloc((size_t)n * (size_t)k);
    unsigned char *selected = malloc((size_t)k * (size_t)k);
    unsigned char *inverse = malloc((size_t)k * (size_t)k);
    unsigned char *rows = malloc((size_t)k * (size_t)lost);
    unsigned char *tables = malloc(32 * (size_t)k * (size_t)lost);
    gf_gen_cauchy1_matrix(matrix, n, k);
    unsigned char **shards = alloc_shards(n, fragment);
    unsigned char **survivors = malloc(sizeof(unsigned char *) * (size_t)k);
    unsigned char **targets = malloc(sizeof(unsigned char *) * (size_t)lost);

    // Survivors are shards lost..<lost+k; the lost ones are data shards 0..<lost.
    for (int r = 0; r < k; r++) {
        memcpy(&selected[r * k], &matrix[(lost + r) * k], (size_t)k);
        survivors[r] = shards[lost + r];
    }
    gf_invert_matrix(selected, inverse, k);
    for (int t = 0; t < lost; t++) {
        memcpy(&rows[t * k], &inverse[t * k], (size_t)k);
        targets[t] = shards[t];
    }
    ec_init_tables(k, lost, rows, tables);

    double start = now();
    for (long i = 0; i < iterations; i++) ec_encode_data(fragment, k, lost, tables, survivors, targets);
    double elapsed = now() - start;

    free(targets);
    free(survivors);
    free_shards(shards, n);
    free(tables);
    free(rows);
    free(inverse);
    free(selected);
    free(matrix);
    return elapsed;
}

double CodingBaseline_chunkEncode(int k, int m, const void *object, int length, long iterations) {
    int n = k + m;
    int fragment = ((length + k - 1) / k + 63) / 64 * 64;
    unsigned char *matrix = malloc((size_t)n * (size_t)k);
    unsigned char *tables = malloc(32 * (size_t)k * (size_t)m);
    gf_gen_cauchy1_matrix(matrix, n, k);
    ec_init_tables(k, m, &matrix[k * k], tables);
    unsigned char *storage = aligned_alloc(64, (size_t)n * (size_t)fragment);
    unsigned char **shards = malloc(sizeof(unsigned char *) * (size_t)n);
    for (int i = 0; i < n; i++) shards[i] = storage + (size_t)i * (size_t)fragment;
    volatile uint32_t checksum = 0;

    double start = now();
    for (long i = 0; i < iterations; i++) {
        memcpy(storage, object, (size_t)length);
        memset(storage + length, 0, (size_t)k * (size_t)fragment - (size_t)length);
        ec_encode_data(fragment, k, m, tables, shards, &shards[k]);
        for (int s = 0; s < n; s++) checksum ^= ~crc32_iscsi(shards[s], fragment, 0xFFFFFFFF);
    }
    double elapsed = now() - start;

    free(shards);
    free(storage);
    free(tables);
    free(matrix);
    return elapsed;
}

double CodingBaseline_lz4Compress(const void *source, int length, long iterations, int *compressedLength) {
    int capacity = LZ4_compressBound(length);
    char *destination = malloc((size_t)capacity);
    int written = 0;

    double start = now();
    for (long i = 0; i < iterations; i++) written = LZ4_compress_default(source, destination, length, capacity);
    double elapsed = now() - start;

    *compressedLength = written;
    free(destination);
    return elapsed;
}

double CodingBaseline_lz4Decompress(const void *source, int compressedLength, int length, long iterations) {
    char *destination = malloc((size_t)length);
    volatile int written = 0;

    double start = now();
    for (long i = 0; i < iterations; i++) written = LZ4_decompress_safe(source, destination, compressedLength, length);
    double elapsed = now() - start;

    free(destination);
    return written == length ? elapsed : -1;
}
