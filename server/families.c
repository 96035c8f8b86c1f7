/* families.c - the protocol families built into tunedfs-server, in matching order (the
 * list router.c serves when main.c picks none). The one place that knows them all. */
#include <stddef.h>

#include "server/batch.h"
#include "server/gcs/gcs.h"
#include "server/gemini/gemini.h"
#include "server/google/oauth.h"
#include "server/openai/openai.h"
#include "server/vertex/vertex.h"
#include "server/router.h"

/* OpenAI before Gemini: GET /v1/models is OpenAI's here (Gemini's stay under /v1beta). */
const struct srv_family *const srv_all_families[] = {
    &srv_family_google_token, &srv_family_openai, &srv_family_gemini,
    &srv_family_vertex,	      &srv_family_gcs,	  NULL,
};

const struct srv_batch_kind *const srv_batch_kinds[] = {
    &srv_gemini_batch_kind,
    &srv_openai_batch_kind,
    &srv_vertex_batch_kind,
    NULL,
};
