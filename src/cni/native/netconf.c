#include <stdlib.h>
#include <string.h>

#include "netconf.h"

struct scan {
	const unsigned char *p, *end;
	int depth;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(struct scan *s, unsigned *out)
{
	if (s->end - s->p < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s->p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	s->p += 4;
	*out = v;
	return 0;
}

static void utf8(struct buf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

/* A JSON string at s->p (the opening quote), decoded into `out` (NULL: only skipped). */
static int string(struct scan *s, struct buf *out)
{
	if (s->p >= s->end || *s->p != '"')
		return -1;
	s->p++;
	while (s->p < s->end) {
		unsigned char c = *s->p++;
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (out)
				buf_add(out, &c, 1);
			continue;
		}
		if (s->p >= s->end)
			return -1;
		unsigned char e = *s->p++;
		unsigned cp;
		switch (e) {
		case '"': case '\\': case '/': cp = e; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (hex4(s, &cp) < 0)
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
			    s->p[1] == 'u') {
				const unsigned char *save = s->p;
				unsigned lo;
				s->p += 2;
				if (hex4(s, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					s->p = save;
			}
			/* A lone surrogate is not a path byte anyone meant: U+FFFD, as JS would print. */
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;
			break;
		default:
			return -1;
		}
		if (out)
			utf8(out, cp);
	}
	return -1;
}

static int value(struct scan *s);

static int literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int number(struct scan *s)
{
	const unsigned char *start = s->p;
	while (s->p < s->end && *s->p && strchr("+-0123456789.eE", *s->p))
		s->p++;
	return s->p > start ? 0 : -1;
}

static int container(struct scan *s, char open, struct found *top)
{
	char close = open == '{' ? '}' : ']';
	if (++s->depth > MAX_DEPTH)
		return -1;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			struct buf key = {0};
			if (string(s, &key) < 0) {
				free(key.p);
				return -1;
			}
			ws(s);
			if (s->p >= s->end || *s->p != ':') {
				free(key.p);
				return -1;
			}
			s->p++;
			ws(s);
			struct buf *into = NULL;
			int *is_string = NULL, *has = NULL;
			if (top && key.p && strcmp(key.p, "server_socket") == 0 &&
			    key.len == strlen("server_socket")) {
				into = &top->socket;
				is_string = &top->socket_is_string;
				has = &top->has_socket;
			} else if (top && key.p && strcmp(key.p, "cniVersion") == 0 &&
				   key.len == strlen("cniVersion")) {
				into = &top->version;
				is_string = &top->version_is_string;
				has = &top->has_version;
			}
			free(key.p);
			if (into) {
				/* JSON.parse keeps the last of duplicate keys. */
				*has = 1;
				into->len = 0;
				*is_string = s->p < s->end && *s->p == '"';
				if (*is_string) {
					if (string(s, into) < 0)
						return -1;
				} else if (value(s) < 0) {
					return -1;
				}
			} else if (value(s) < 0) {
				return -1;
			}
		} else if (value(s) < 0) {
			return -1;
		}
		ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == ',') {
			s->p++;
			ws(s);
			continue;
		}
		if (*s->p != close)
			return -1;
		s->p++;
		s->depth--;
		return 0;
	}
}

static int value(struct scan *s)
{
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
	case '[':
		return container(s, (char)*s->p, NULL);
	case '"':
		return string(s, NULL);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s);
	}
}

int scan_netconf(const char *conf, size_t len, struct found *f)
{
	struct scan s = {(const unsigned char *)conf, (const unsigned char *)conf + len, 0};
	ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -1;
	if (container(&s, '{', f) < 0)
		return -1;
	ws(&s);
	return s.p == s.end ? 0 : -1;
}
