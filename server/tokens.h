/* tokens.h - the tokenizer of tunedfs-server: what every family's countTokens and usage
 * figures count. The trained model reads bytes, so a token is one byte of UTF-8 text.
 * No protocol here: the families read their own request shapes and call these. */
#ifndef TUNEDFS_SERVER_TOKENS_H
#define TUNEDFS_SERVER_TOKENS_H

#include <stddef.h>

/* Tokens of n bytes of text: one per byte, as the byte model reads them. */
size_t srv_tokens_count(const char *text, size_t n);
/* The same for a NUL-terminated string; NULL counts 0. */
size_t srv_tokens_of(const char *text);

#endif
