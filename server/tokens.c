/* tokens.c - the byte tokenizer of tunedfs-server: one token per byte of UTF-8 text, the
 * unit the byte model trains on and generates. Request shapes (contents, messages) are the
 * families' to walk; this file only counts. */
#include <string.h>

#include "server/tokens.h"

size_t srv_tokens_count(const char *text, size_t n)
{
	return text ? n : 0;
}

size_t srv_tokens_of(const char *text)
{
	return text ? srv_tokens_count(text, strlen(text)) : 0;
}
