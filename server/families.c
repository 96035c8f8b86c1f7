/* families.c - the protocol families built into tunedfs-server, in matching order (the
 * list router.c serves when main.c picks none). The one place that knows them all. */
#include <stddef.h>

#include "server/gcs/gcs.h"
#include "server/gemini/gemini.h"
#include "server/vertex/vertex.h"
#include "server/google/oauth.h"
#include "server/router.h"

const struct srv_family *const srv_all_families[] = {
    &srv_family_google_token, &srv_family_gemini, &srv_family_vertex, &srv_family_gcs, NULL,
};
