/* ids.h - tuned model and operation ids of tunedfs-server: validation against the real
 * service's rule, ids made from a display name plus a random suffix, random bytes.
 * No store lookups (the caller retries on a collision). */
#ifndef TUNEDFS_SERVER_IDS_H
#define TUNEDFS_SERVER_IDS_H

#include <stddef.h>
#include <stdint.h>

#define SRV_ID_MAX 40

/* 1 when id matches ^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$ */
int srv_id_valid(const char *id);
/* An id from the words of display_name joined by '-' plus '-' and a random suffix of
 * [a-z0-9]; fully random (starting with a letter) when the name has no usable word.
 * buf needs SRV_ID_MAX + 1 bytes. */
void srv_id_from_display(const char *display_name, char *buf, size_t len);
/* n random characters of [a-z0-9], the first a letter, NUL-terminated (buf > n). */
void srv_id_random(char *buf, size_t n);
/* Bytes from the kernel's generator (falls back to the clock when it fails). */
void srv_random_bytes(void *buf, size_t n);

#endif
