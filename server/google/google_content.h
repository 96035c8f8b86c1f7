/* google_content.h - the generateContent wire shapes the Gemini API and Vertex AI share,
 * for tunedfs-server's gemini and vertex families: the request (contents, generationConfig,
 * the prompt as the text of the last turn), the GenerateContentResponse, its streamed
 * chunks (SSE or a JSON array) and countTokens. Running the model is generate.h. */
#ifndef TUNEDFS_SERVER_GOOGLE_CONTENT_H
#define TUNEDFS_SERVER_GOOGLE_CONTENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "server/generate.h"

struct srv_request;
struct srv_reply;

#define SRV_GOOGLE_MAX_PROMPT 40000
#define SRV_GOOGLE_MAX_OUT    8192
#define SRV_GOOGLE_DEF_OUT    1024
/* A prompt holding this is answered as blocked for safety (promptFeedback.blockReason). */
#define SRV_GOOGLE_BLOCK_MARK "TUNEDFS-BLOCK"

/* Reads body's generationConfig over g and its prompt (heap) into *prompt: 0, or fills
 * rep with 400 naming the field and returns -EINVAL. */
int srv_google_gen_request(const cJSON *body, struct srv_gen_params *g, char **prompt, size_t *len,
			   struct srv_reply *rep);
/* Answers text (NULL: the prompt was blocked) as one GenerateContentResponse, or when
 * stream is set as chunks of it: SSE events with alt=sse, else a JSON array. version is
 * the modelVersion it names. */
void srv_google_gen_answer(const struct srv_request *req, int stream, const char *version,
			   const char *text, const char *finish, size_t prompt_bytes,
			   struct srv_reply *rep);
/* countTokens: bytes of every text part of contents (or generateContentRequest). */
void srv_google_count_tokens(const cJSON *body, struct srv_reply *rep);

#endif
