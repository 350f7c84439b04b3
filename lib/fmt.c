/* SPDX-License-Identifier: MIT */
/*
 * A small snprintf() of the library's own (fmt.h).
 */
#include <stdbool.h>
#include <stdint.h>

#include "fmt.h"

struct fmt_out {
	char *buf;
	size_t cap, len;
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void out_mem(struct fmt_out *o, const char *s, size_t n)
{
	while (n--)
		out_char(o, *s++);
}

int plkv_fmt_u64(char *buf, unsigned long long v)
{
	char rev[20];
	int n = 0, i;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = rev[n - 1 - i];
	return n;
}

static void out_hex(struct fmt_out *o, unsigned long long v)
{
	char rev[16];
	int n = 0;

	do {
		rev[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		out_char(o, rev[--n]);
}

/* The integer argument of a conversion with length modifier mod ('l' for
 * l, 'q' for ll, 'z', or 0), as the type it has. */
static unsigned long long int_arg(va_list *ap, char mod, bool is_signed,
				  bool *neg)
{
	long long s;

	*neg = false;
	if (!is_signed) {
		switch (mod) {
		case 'l':
			return va_arg(*ap, unsigned long);
		case 'q':
			return va_arg(*ap, unsigned long long);
		case 'z':
			return va_arg(*ap, size_t);
		default:
			return va_arg(*ap, unsigned int);
		}
	}
	switch (mod) {
	case 'l':
		s = va_arg(*ap, long);
		break;
	case 'q':
		s = va_arg(*ap, long long);
		break;
	case 'z':
		s = (long long)va_arg(*ap, size_t);
		break;
	default:
		s = va_arg(*ap, int);
		break;
	}
	*neg = s < 0;
	return *neg ? 0ULL - (unsigned long long)s : (unsigned long long)s;
}

int plkv_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, cap, 0 };
	char digits[20], mod;
	unsigned long long v;
	const char *s;
	va_list args;
	bool neg;
	int prec;

	va_copy(args, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		prec = -1;
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(args, int);
			fmt += 2;
		}
		mod = 0;
		if (*fmt == 'l') {
			mod = 'l';
			if (*++fmt == 'l') {
				mod = 'q';
				fmt++;
			}
		} else if (*fmt == 'z') {
			mod = 'z';
			fmt++;
		}
		switch (*fmt) {
		case 's':
			s = va_arg(args, const char *);
			if (!s)
				s = "(null)";
			while (*s && prec--)
				out_char(&o, *s++);
			break;
		case 'c':
			out_char(&o, (char)va_arg(args, int));
			break;
		case 'd':
		case 'i':
		case 'u':
			v = int_arg(&args, mod, *fmt != 'u', &neg);
			if (neg)
				out_char(&o, '-');
			out_mem(&o, digits, (size_t)plkv_fmt_u64(digits, v));
			break;
		case 'x':
			out_hex(&o, int_arg(&args, mod, false, &neg));
			break;
		case '%':
			out_char(&o, '%');
			break;
		default:	/* not ours: shown as written */
			out_char(&o, '%');
			if (!*fmt)
				fmt--;
			else
				out_char(&o, *fmt);
			break;
		}
	}
	va_end(args);
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return (int)o.len;
}

int plkv_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = plkv_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}
