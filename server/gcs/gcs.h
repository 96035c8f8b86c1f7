/* gcs.h - the Cloud Storage family of tunedfs-server (gcs_routes.c). */
#ifndef TUNEDFS_SERVER_GCS_H
#define TUNEDFS_SERVER_GCS_H

#include "server/family.h"

extern const struct srv_family srv_family_gcs;

#endif
