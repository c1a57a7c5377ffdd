#ifndef CISAL_SHIM_H
#define CISAL_SHIM_H

// Only the parts of ISA-L that InfiniCoding uses: Reed–Solomon over GF(2^8) and CRC32C.
#include <stddef.h>
#include <stdint.h>
#include <isa-l/erasure_code.h>
#include <isa-l/crc.h>

/// CRC32C (Castagnoli, as iSCSI) with the conventional pre- and post-inversion, so that
/// `CISAL_crc32c("123456789", 9, 0) == 0xE3069283` and checksums can be chained by passing the
/// previous result as `seed`.
static inline uint32_t CISAL_crc32c(const void *bytes, int length, uint32_t seed) {
    return ~crc32_iscsi((unsigned char *)bytes, length, ~seed);
}

#endif
