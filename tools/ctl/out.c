// SPDX-License-Identifier: MIT
/*
 * plkvctl output: a small JSON emitter, aligned "label: value" lists,
 * aligned tables, and the formatting of sizes and times.
 *
 * The JSON emitter writes as it goes.  It keeps one bit of state per
 * nesting level, "something was already written here", which is all it
 * needs to put commas in the right places; a key sets a flag so that the
 * value after it gets no comma.  Strings are escaped per RFC 8259; bytes
 * that are not valid UTF-8 (values can be binary) are written as the
 * \u00XX of the byte, so the output is always valid JSON.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* ---- JSON ---- */

#define JSON_DEPTH 32

static struct {
	int depth;
	bool after_key;
	bool nonempty[JSON_DEPTH];
} js;

static void json_sep(void)
{
	if (js.after_key) {
		js.after_key = false;
		return;
	}
	if (js.depth > 0 && js.nonempty[js.depth - 1])
		fputc(',', stdout);
	if (js.depth > 0)
		js.nonempty[js.depth - 1] = true;
}

static void json_open(int c)
{
	json_sep();
	fputc(c, stdout);
	if (js.depth < JSON_DEPTH)
		js.nonempty[js.depth] = false;
	js.depth++;
}

static void json_close(int c)
{
	if (js.depth > 0)
		js.depth--;
	fputc(c, stdout);
	if (!js.depth)
		fputc('\n', stdout);	/* one value per command, one line */
}

void json_obj_begin(void) { json_open('{'); }
void json_obj_end(void) { json_close('}'); }
void json_arr_begin(void) { json_open('['); }
void json_arr_end(void) { json_close(']'); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond Unicode. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void json_write_str(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	fputc('"', stdout);
	while (i < n) {
		unsigned char c = s[i];

		switch (c) {
		case '"':  fputs("\\\"", stdout); i++; continue;
		case '\\': fputs("\\\\", stdout); i++; continue;
		case '\b': fputs("\\b", stdout); i++; continue;
		case '\f': fputs("\\f", stdout); i++; continue;
		case '\n': fputs("\\n", stdout); i++; continue;
		case '\r': fputs("\\r", stdout); i++; continue;
		case '\t': fputs("\\t", stdout); i++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
			i++;
			continue;
		}
		len = utf8_len(s + i, n - i);
		if (len == 0) {
			printf("\\u%04x", c);
			i++;
			continue;
		}
		fwrite(s + i, 1, len, stdout);
		i += len;
	}
	fputc('"', stdout);
}

void json_key(const char *key)
{
	json_sep();
	json_write_str(key, strlen(key));
	fputc(':', stdout);
	js.after_key = true;
}

void json_strn(const char *s, size_t len)
{
	json_sep();
	json_write_str(s, len);
}

void json_str(const char *s)
{
	if (!s) {
		json_null();
		return;
	}
	json_strn(s, strlen(s));
}

void json_u64(uint64_t v)
{
	json_sep();
	printf("%llu", (unsigned long long)v);
}

void json_i64(int64_t v)
{
	json_sep();
	printf("%lld", (long long)v);
}

void json_double(double v)
{
	json_sep();
	if (!isfinite(v))
		fputs("null", stdout);	/* JSON has no NaN or Inf */
	else
		printf("%.17g", v);
}

void json_bool(bool v)
{
	json_sep();
	fputs(v ? "true" : "false", stdout);
}

void json_null(void)
{
	json_sep();
	fputs("null", stdout);
}

/* True if s is exactly a JSON number (RFC 8259 grammar). */
static bool is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (isdigit((unsigned char)*s))
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* Statistics arrive as strings; numbers go out as JSON numbers. */
void json_number_or_str(const char *s)
{
	if (s && is_json_number(s)) {
		json_sep();
		fputs(s, stdout);
	} else {
		json_str(s);
	}
}

void json_kv_str(const char *key, const char *v) { json_key(key); json_str(v); }
void json_kv_u64(const char *key, uint64_t v) { json_key(key); json_u64(v); }
void json_kv_i64(const char *key, int64_t v) { json_key(key); json_i64(v); }
void json_kv_double(const char *key, double v) { json_key(key); json_double(v); }
void json_kv_bool(const char *key, bool v) { json_key(key); json_bool(v); }

/* ---- label: value lists ---- */

struct kv_entry {
	char *label;
	char *value;
};

struct kvlist {
	struct kv_entry *e;
	size_t n, cap;
};

static void oom(void)
{
	fputs("plkvctl: out of memory\n", stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		oom();
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

struct kvlist *kv_new(void)
{
	struct kvlist *l = xrealloc(NULL, sizeof(*l));

	memset(l, 0, sizeof(*l));
	return l;
}

void kv_add(struct kvlist *l, const char *label, const char *fmt, ...)
{
	va_list ap;
	char *v;

	va_start(ap, fmt);
	if (vasprintf(&v, fmt, ap) < 0)
		v = NULL;
	va_end(ap);
	if (!v)
		oom();
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n].label = xstrdup(label);
	l->e[l->n].value = v;
	l->n++;
}

void kv_print(struct kvlist *l)
{
	size_t i, w = 0;

	for (i = 0; i < l->n; i++)
		if (strlen(l->e[i].label) > w)
			w = strlen(l->e[i].label);
	for (i = 0; i < l->n; i++) {
		printf("%*s: %s\n", (int)w, l->e[i].label, l->e[i].value);
		free(l->e[i].label);
		free(l->e[i].value);
	}
	free(l->e);
	free(l);
}

/* ---- tables ---- */

struct table {
	int ncols;
	char *align;
	int *width;
	char **cells;		/* rows * ncols, the header first */
	size_t rows, cap;
	bool streaming;		/* widths fixed, rows printed as they come */
};

static void table_emit(struct table *t, char *const *cells)
{
	int i;

	for (i = 0; i < t->ncols; i++) {
		bool last = i == t->ncols - 1;

		if (t->align[i] == 'r')
			printf("%*s", t->width[i], cells[i]);
		else if (last)
			fputs(cells[i], stdout);
		else
			printf("%-*s", t->width[i], cells[i]);
		if (!last)
			fputs("  ", stdout);
	}
	fputc('\n', stdout);
}

static void table_add(struct table *t, const char *const *cells)
{
	int i;

	if (t->rows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->cells = xrealloc(t->cells,
				    t->cap * t->ncols * sizeof(*t->cells));
	}
	for (i = 0; i < t->ncols; i++) {
		int len = (int)strlen(cells[i]);

		if (len > t->width[i])
			t->width[i] = len;
		t->cells[t->rows * t->ncols + i] = xstrdup(cells[i]);
	}
	t->rows++;
}

static void table_flush(struct table *t)
{
	size_t r;
	int i;

	for (r = 0; r < t->rows; r++) {
		table_emit(t, t->cells + r * t->ncols);
		for (i = 0; i < t->ncols; i++)
			free(t->cells[r * t->ncols + i]);
	}
	t->rows = 0;
}

struct table *table_new(int ncols, const char *const *headers,
			const char *align)
{
	struct table *t = xrealloc(NULL, sizeof(*t));

	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->align = xstrdup(align);
	t->width = xrealloc(NULL, ncols * sizeof(*t->width));
	memset(t->width, 0, ncols * sizeof(*t->width));
	table_add(t, headers);
	return t;
}

void table_row(struct table *t, const char *const *cells)
{
	if (t->streaming) {
		table_emit(t, (char *const *)cells);
		return;
	}
	table_add(t, cells);
	if (t->rows > TABLE_BUFFER_ROWS) {
		table_flush(t);
		t->streaming = true;
	}
}

void table_free(struct table *t)
{
	free(t->cells);
	free(t->width);
	free(t->align);
	free(t);
}

void table_print(struct table *t)
{
	table_flush(t);
	fflush(stdout);
	table_free(t);
}

struct table *list_begin(int ncols, const char *const *headers,
			 const char *align)
{
	if (ctl.json) {
		json_arr_begin();
		return NULL;
	}
	return table_new(ncols, headers, align);
}

void list_end(struct table *t)
{
	if (ctl.json)
		json_arr_end();
	else
		table_print(t);
}

/* ---- formatting ---- */

/* 1536 -> "1.5 KiB"; below 1 KiB plain bytes. */
char *fmt_size(char *buf, size_t cap, uint64_t bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, unit[u]);
	return buf;
}

char *fmt_time(char *buf, size_t cap, uint64_t unix_time)
{
	time_t t = (time_t)unix_time;
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, cap, "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(buf, cap, "%llu", (unsigned long long)unix_time);
	return buf;
}

/* 90061 -> "1d 1h"; keeps the two largest units. */
char *fmt_ago(char *buf, size_t cap, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, cap, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, cap, "%lldm %llds", (long long)s / 60,
			 (long long)s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%lldh %lldm", (long long)s / 3600,
			 (long long)s % 3600 / 60);
	else
		snprintf(buf, cap, "%lldd %lldh", (long long)s / 86400,
			 (long long)s % 86400 / 3600);
	return buf;
}

/* An item's absolute exptime as "never", "expired" or "in 5m 3s". */
char *fmt_exptime(char *buf, size_t cap, int64_t exptime, int64_t now)
{
	char d[32];

	if (exptime == 0)
		snprintf(buf, cap, "never");
	else if (exptime <= now)
		snprintf(buf, cap, "expired");
	else
		snprintf(buf, cap, "in %s", fmt_ago(d, sizeof(d), exptime - now));
	return buf;
}

/* Bytes for a terminal: printable ASCII as is, the rest as \xNN. */
char *fmt_printable(char *buf, size_t cap, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += snprintf(buf + o, cap - o, "\\x%02x", c);
	}
	if (i < len && o + 4 < cap)
		o += snprintf(buf + o, cap - o, "...");
	buf[o < cap ? o : cap - 1] = '\0';
	return buf;
}
