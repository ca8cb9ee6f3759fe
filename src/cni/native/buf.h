/* A growing byte buffer, always NUL-terminated after its bytes. */
#ifndef OVS_OFFLOAD_CNI_BUF_H
#define OVS_OFFLOAD_CNI_BUF_H
#include <stddef.h>

struct buf {
	char *p;
	size_t len, cap;
};

void buf_add(struct buf *b, const void *data, size_t n);
void buf_str(struct buf *b, const char *s);

#endif
