/* md5.h - MD5 (RFC 1321), for the distribution handshake's digests only. */
#ifndef OAK_DIST_MD5_H
#define OAK_DIST_MD5_H

#include <stddef.h>
#include <stdint.h>

/* The 16-byte MD5 digest of n bytes at data, into out. */
void oak__md5(const void *data, size_t n, uint8_t out[16]);

#endif
