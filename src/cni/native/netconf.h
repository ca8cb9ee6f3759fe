/*
 * The two top-level strings of a NetConf the compiled front end needs: where the agent listens
 * (`server_socket`) and the version its own answers speak (`cniVersion`). Only well-formed JSON
 * needs an exact answer: anything else goes to the Node front end or to the agent, which both
 * refuse it.
 */
#ifndef OVS_OFFLOAD_CNI_NETCONF_H
#define OVS_OFFLOAD_CNI_NETCONF_H
#include <stddef.h>

#include "buf.h"

/* Deeper JSON is the Node front end's to refuse (src/cni/run.ts MAX_NESTING). */
#define MAX_DEPTH 256

struct found {
	struct buf socket, version;
	int socket_is_string, version_is_string, has_socket, has_version;
};

/* 0 when `conf` is one JSON object (nothing but whitespace around it); the last of duplicate
 * keys wins, as with JSON.parse. */
int scan_netconf(const char *conf, size_t len, struct found *f);

#endif
