#ifndef CLZ4_SHIM_H
#define CLZ4_SHIM_H

// LZ4 block format only. The wrappers take `const void *` so Swift can pass raw buffers
// without rebinding memory to `CChar`.
#include <lz4.h>

static inline int CLZ4_compressBound(int sourceLength) {
    return LZ4_compressBound(sourceLength);
}

static inline int CLZ4_compress(const void *source, void *destination, int sourceLength, int destinationCapacity) {
    return LZ4_compress_default((const char *)source, (char *)destination, sourceLength, destinationCapacity);
}

/// Never `LZ4_decompress_fast`: chunk bodies come from the network and are not trusted.
static inline int CLZ4_decompress(const void *source, void *destination, int sourceLength, int destinationCapacity) {
    return LZ4_decompress_safe((const char *)source, (char *)destination, sourceLength, destinationCapacity);
}

#endif
