// SPDX-License-Identifier: MIT
/*
 * plkv._plkv: the Client type of plkv's Python binding.
 *
 * Written against the CPython API so that a get costs one libplkv call plus
 * the Python object work (argument parsing, one bytes object), which is
 * what makes it worth using over a socket.  plkv/__init__.py subclasses it
 * for what is off the hot path (stats typing, legacy serializers, aliases).
 *
 * Semantics follow pymemcache's pymemcache.client.base.Client: the same
 * methods, arguments, return values and exceptions, with libplkv's result
 * codes standing in for memcached's reply lines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plkv.h>

#define KEY_MAX		250
/* Values up to this many bytes are copied through the stack: one copy
 * more, but no guess at the size and no resize of the bytes object. */
#define STACK_VALUE	2048
/*
 * "auto" releases the GIL only around calls that walk the whole store
 * (check).  Measured (bench.py): releasing costs ~40 ns, half a small get,
 * and when another thread wants the GIL the releasing one waits for it up
 * to the switch interval (5 ms): beside a busy Python thread, gets of
 * 100 B to 1 MiB ran 4-40x slower released than held.  A get or store is
 * a copy of at most the item size limit, far under that interval.
 */
/* get_many's packing buffer; a value that doesn't fit is fetched alone. */
#define MGET_BUF	(64u << 10)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

static PyObject *err_client, *err_illegal, *err_server;

/*
 * Bumped in the child by every fork(): a Client whose generation differs
 * was opened by an ancestor, has no mapping here, and reopens at its next
 * call.  A load and a compare per call, where getpid() would be a system
 * call.
 */
static unsigned long fork_gen;

static void atfork_child(void)
{
	fork_gen++;
}

enum gil_policy { GIL_AUTO, GIL_ALWAYS, GIL_NEVER };

typedef struct {
	PyObject_HEAD
	plkv_t *kv;
	unsigned long fork_gen;
	int inflight;		/* methods using the handle now */
	bool close_pending;	/* close() came while some were */
	bool has_segment;
	char segment[64];
	struct plkv_options opts;
	PyObject *serde;	/* NULL: bytes as is, others via str() */
	PyObject *key_prefix;	/* bytes */
	PyObject *encoding;	/* str */
	char default_noreply;	/* chars: T_BOOL members */
	char allow_unicode_keys;
	char ignore_exc;
	int gil;		/* enum gil_policy */
} Client;

/* A checked key: the prefix and the key, as the store sees it. */
struct ckey {
	size_t len;
	char b[KEY_MAX + 1];
};

/* ---- errors ------------------------------------------------------------ */

/* Raise what pymemcache raises for the memcached reply a code stands for. */
static PyObject *raise_rc(int rc)
{
	switch (rc) {
	case PLKV_ETOOBIG:
		PyErr_SetString(err_server, "object too large for cache");
		break;
	case PLKV_ENOMEM:
		PyErr_SetString(err_server, "out of memory storing object");
		break;
	case PLKV_ENONNUMERIC:
		PyErr_SetString(err_client,
				"cannot increment or decrement non-numeric value");
		break;
	case PLKV_EBADKEY:
		PyErr_SetString(err_illegal, "Key refused by the store");
		break;
	default:
		if (rc < 0 && rc > -4096) {
			errno = -rc;
			PyErr_SetFromErrno(PyExc_OSError);
		} else {
			PyErr_SetString(err_server, plkv_strerror(rc));
		}
	}
	return NULL;
}

static PyObject *raise_open(const char *name, int rc)
{
	const char *why = plkv_open_error();
	const char *what = why && *why ? why : plkv_strerror(rc);

	if (rc < 0 && rc > -4096) {
		PyObject *e = Py_BuildValue("(is)", -rc, what);

		if (e) {
			PyErr_SetObject(PyExc_OSError, e);
			Py_DECREF(e);
		}
		return NULL;
	}
	PyErr_Format(err_server, "plkv store %s: %s", name ? name : "(default)",
		     what);
	return NULL;
}

/* ---- arguments --------------------------------------------------------- */

/*
 * Fill out[0..n) from positional arguments, then keywords (vectorcall
 * convention); absent ones stay NULL.  The first `required` are required.
 */
static int parse(const char *fn, PyObject *const *args, Py_ssize_t nargs,
		 PyObject *kwnames, const char *const *names, int n,
		 int required, PyObject **out)
{
	Py_ssize_t k, nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	int i;

	if (nargs > n) {
		PyErr_Format(PyExc_TypeError,
			     "%s() takes at most %d arguments (%zd given)",
			     fn, n, nargs);
		return -1;
	}
	for (i = 0; i < n; i++)
		out[i] = i < nargs ? args[i] : NULL;
	for (k = 0; k < nk; k++) {
		PyObject *kw = PyTuple_GET_ITEM(kwnames, k);

		for (i = 0; i < n; i++)
			if (PyUnicode_CompareWithASCIIString(kw, names[i]) == 0)
				break;
		if (i == n) {
			PyErr_Format(PyExc_TypeError,
				     "%s() got an unexpected keyword argument '%U'",
				     fn, kw);
			return -1;
		}
		if (out[i]) {
			PyErr_Format(PyExc_TypeError,
				     "%s() got multiple values for argument '%s'",
				     fn, names[i]);
			return -1;
		}
		out[i] = args[nargs + k];
	}
	for (i = 0; i < required; i++)
		if (!out[i]) {
			PyErr_Format(PyExc_TypeError,
				     "%s() missing required argument '%s'",
				     fn, names[i]);
			return -1;
		}
	return 0;
}

/* pymemcache's _check_integer: an int (bool included), any value. */
static int int_arg(PyObject *o, const char *name, long long dflt,
		   long long *v)
{
	int overflow;

	if (!o) {
		*v = dflt;
		return 0;
	}
	if (!PyLong_Check(o)) {
		PyErr_Format(err_illegal, "%s must be integer, got bad value: %R",
			     name, o);
		return -1;
	}
	*v = PyLong_AsLongLongAndOverflow(o, &overflow);
	if (overflow) {
		PyErr_Format(err_illegal, "%s out of range: %R", name, o);
		return -1;
	}
	return *v == -1 && PyErr_Occurred() ? -1 : 0;
}

static int noreply_arg(Client *c, PyObject *o, int dflt)
{
	if (!o || o == Py_None)
		return dflt < 0 ? c->default_noreply : dflt;
	return PyObject_IsTrue(o);
}

/* ---- keys -------------------------------------------------------------- */

static PyObject *key_repr_error(const char *what, const struct ckey *k)
{
	PyObject *b = PyBytes_FromStringAndSize(k->b, (Py_ssize_t)k->len);

	if (b) {
		PyErr_Format(err_illegal, "%s: %R", what, b);
		Py_DECREF(b);
	}
	return NULL;
}

/*
 * pymemcache's check_key_helper, in its order: str keys encoded (ASCII
 * unless allow_unicode_keys; bytes keys are taken as they are), the prefix
 * prepended, then at most 250 bytes, no whitespace, no NUL.  The store
 * also refuses other control characters and the empty key; they get the
 * same exception here rather than a reply error.
 */
static int check_key(Client *c, PyObject *key, struct ckey *out)
{
	const char *s;
	Py_ssize_t n, plen = PyBytes_GET_SIZE(c->key_prefix);
	bool high = false;
	Py_ssize_t i;

	if (PyBytes_Check(key)) {
		s = PyBytes_AS_STRING(key);
		n = PyBytes_GET_SIZE(key);
	} else if (PyUnicode_Check(key)) {
		if (!c->allow_unicode_keys && !PyUnicode_IS_ASCII(key))
			high = true;
		s = PyUnicode_AsUTF8AndSize(key, &n);
		if (!s)
			return -1;
	} else {
		PyErr_Format(PyExc_TypeError,
			     "key must be str or bytes, not %.100s",
			     Py_TYPE(key)->tp_name);
		return -1;
	}
	if (high) {
		PyErr_Format(err_illegal, "Non-ASCII key: %R", key);
		return -1;
	}
	if (plen + n > KEY_MAX) {
		PyObject *full = PyBytes_FromStringAndSize(NULL, plen + n);

		if (full) {
			memcpy(PyBytes_AS_STRING(full),
			       PyBytes_AS_STRING(c->key_prefix), plen);
			memcpy(PyBytes_AS_STRING(full) + plen, s, n);
			PyErr_Format(err_illegal, "Key is too long: %R", full);
			Py_DECREF(full);
		}
		return -1;
	}
	memcpy(out->b, PyBytes_AS_STRING(c->key_prefix), plen);
	memcpy(out->b + plen, s, n);
	out->len = plen + n;
	out->b[out->len] = '\0';
	if (out->len == 0) {
		PyErr_SetString(err_illegal, "Key is empty");
		return -1;
	}
	{
		bool space = false, nul = false, ctl = false;

		for (i = 0; i < (Py_ssize_t)out->len; i++) {
			unsigned char ch = out->b[i];

			if (likely(ch > 0x20 && ch != 0x7f))
				continue;
			if (ch == ' ' || (ch >= '\t' && ch <= '\r'))
				space = true;
			else if (ch == 0)
				nul = true;
			else
				ctl = true;
		}
		if (space || nul || ctl) {
			key_repr_error(space ? "Key contains whitespace" :
				       nul ? "Key contains null" :
				       "Key contains a control character", out);
			return -1;
		}
	}
	return 0;
}

/* ---- open, fork, close ------------------------------------------------- */

static int do_open(Client *c)
{
	const char *name = c->has_segment ? c->segment : NULL;
	plkv_t *kv = NULL;
	int rc;

	/* With the GIL held: no other thread opens or closes meanwhile. */
	rc = plkv_open(name, &c->opts, &kv);
	if (rc) {
		raise_open(name, rc);
		return -1;
	}
	c->kv = kv;
	c->fork_gen = fork_gen;
	return 0;
}

static void do_close(Client *c)
{
	plkv_t *kv = c->kv;

	c->kv = NULL;
	c->close_pending = false;
	if (kv)
		plkv_close(kv);
}

/*
 * Before every call: open after close(), and in a forked child drop the
 * ancestor's handle (plkv_close() there frees it without touching the
 * store) and open our own, as pymemcache reconnects after close().
 */
static int reopen(Client *c)
{
	if (c->kv && c->fork_gen != fork_gen) {
		c->inflight = 0;	/* those threads live in the parent */
		do_close(c);
	}
	return c->kv ? 0 : do_open(c);
}

/*
 * Every method brackets its use of the handle with these: a close() from
 * another thread in between (it can run while the GIL is released) is
 * left to the last method still using the handle.
 */
static inline int op_begin(Client *c)
{
	c->close_pending = false;	/* a call after close() reopens */
	if (unlikely(!c->kv || c->fork_gen != fork_gen) && reopen(c))
		return -1;
	c->inflight++;
	return 0;
}

static inline void op_end(Client *c)
{
	if (--c->inflight == 0 && unlikely(c->close_pending))
		do_close(c);
}

static inline bool release_gil(const Client *c, bool big)
{
	return c->gil == GIL_ALWAYS || (c->gil == GIL_AUTO && big);
}

/* Run stmt, with the GIL released when the policy says it pays. */
#define CALL(c, big, stmt)					\
	do {							\
		if (release_gil(c, big)) {			\
			Py_BEGIN_ALLOW_THREADS			\
			stmt;					\
			Py_END_ALLOW_THREADS			\
		} else {					\
			stmt;					\
		}						\
	} while (0)

/* ---- values ------------------------------------------------------------ */

/* What a store sends: the serialized bytes, held for the call. */
struct val {
	Py_buffer view;
	bool have_view;
	PyObject *hold;		/* bytes we made */
	const char *p;
	size_t len;
	uint32_t flags;
};

static void val_release(struct val *v)
{
	if (v->have_view)
		PyBuffer_Release(&v->view);
	Py_XDECREF(v->hold);
}

static int flags_arg(PyObject *o, uint32_t *flags)
{
	unsigned long long f;

	if (!PyLong_Check(o)) {
		PyErr_Format(err_illegal, "flags must be integer, got bad value: %R",
			     o);
		return -1;
	}
	f = PyLong_AsUnsignedLongLong(o);
	if ((f == (unsigned long long)-1 && PyErr_Occurred()) ||
	    f > UINT32_MAX) {
		PyErr_Clear();
		PyErr_Format(err_illegal,
			     "flags must be in 0..4294967295, got %R", o);
		return -1;
	}
	*flags = (uint32_t)f;
	return 0;
}

/*
 * pymemcache's _store_cmd value path: serde.serialize(key, value) gives
 * (data, flags); explicit flags win; data not bytes goes through str()
 * and the client's encoding.  bytearray and memoryview are stored as
 * their bytes (pymemcache would store their str()).
 */
static int to_val(Client *c, const struct ckey *k, PyObject *value,
		  PyObject *flags, struct val *v)
{
	PyObject *data = value, *pair = NULL, *s;

	memset(v, 0, sizeof(*v));
	if (c->serde) {
		PyObject *kb = PyBytes_FromStringAndSize(k->b, (Py_ssize_t)k->len);

		if (!kb)
			return -1;
		pair = PyObject_CallMethod(c->serde, "serialize", "OO", kb,
					   value);
		Py_DECREF(kb);
		if (!pair)
			return -1;
		if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
			PyErr_SetString(PyExc_TypeError,
					"serde.serialize() must return (data, flags)");
			goto fail;
		}
		data = PyTuple_GET_ITEM(pair, 0);
		if (flags_arg(PyTuple_GET_ITEM(pair, 1), &v->flags))
			goto fail;
	}
	if (flags && flags != Py_None && flags_arg(flags, &v->flags))
		goto fail;
	if (PyBytes_Check(data)) {
		v->hold = Py_NewRef(data);
	} else if (PyObject_CheckBuffer(data) && !PyUnicode_Check(data)) {
		if (PyObject_GetBuffer(data, &v->view, PyBUF_SIMPLE))
			goto fail;
		v->have_view = true;
		v->p = v->view.buf;
		v->len = (size_t)v->view.len;
		Py_XDECREF(pair);
		return 0;
	} else {
		s = PyObject_Str(data);
		if (!s)
			goto fail;
		v->hold = PyUnicode_AsEncodedString(s, PyUnicode_AsUTF8(c->encoding),
						    "strict");
		Py_DECREF(s);
		if (!v->hold) {
			if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
				PyObject *t, *e, *tb;

				PyErr_Fetch(&t, &e, &tb);
				PyErr_NormalizeException(&t, &e, &tb);
				PyErr_Format(err_illegal,
					     "Data values must be binary-safe: %S",
					     e);
				Py_XDECREF(t);
				Py_XDECREF(e);
				Py_XDECREF(tb);
			}
			goto fail;
		}
	}
	v->p = PyBytes_AS_STRING(v->hold);
	v->len = (size_t)PyBytes_GET_SIZE(v->hold);
	Py_XDECREF(pair);
	return 0;
fail:
	Py_XDECREF(pair);
	val_release(v);
	return -1;
}

/* serde.deserialize(key, value, flags) for the caller's original key. */
static PyObject *from_val(Client *c, PyObject *key, PyObject *bytes,
			  uint32_t flags)
{
	PyObject *r;

	if (!c->serde || !bytes)
		return bytes;
	r = PyObject_CallMethod(c->serde, "deserialize", "OOI", key, bytes,
				flags);
	Py_DECREF(bytes);
	return r;
}

/* pymemcache hands out CAS values as the bytes of the reply line. */
static PyObject *cas_bytes(uint64_t cas)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)cas);

	return PyBytes_FromStringAndSize(s, n);
}

/* ---- reads ------------------------------------------------------------- */

/*
 * The value of one key as a new bytes object, Py_None (borrowed: not
 * found) or NULL (error).  touch: gat with that exptime.
 */
static PyObject *fetch(Client *c, const struct ckey *k, bool touch,
		       int64_t exptime, struct plkv_meta *meta)
{
	char stack[STACK_VALUE];
	PyObject *b;
	int rc;

	CALL(c, false,
	     rc = touch ? plkv_gat(c->kv, k->b, k->len, exptime, stack,
				   sizeof(stack), meta) :
			  plkv_get(c->kv, k->b, k->len, stack, sizeof(stack),
				   meta));
	if (likely(rc == 0))
		return PyBytes_FromStringAndSize(stack, (Py_ssize_t)meta->len);
	/* Too big for the stack: into a bytes object of the size reported,
	 * again if it grew meanwhile. */
	while (rc == PLKV_ETOOSMALL) {
		size_t want = meta->len;

		b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)want);
		if (!b)
			return NULL;
		CALL(c, false,
		     rc = touch ? plkv_gat(c->kv, k->b, k->len, exptime,
					   PyBytes_AS_STRING(b), want, meta) :
				  plkv_get(c->kv, k->b, k->len,
					   PyBytes_AS_STRING(b), want, meta));
		if (rc == 0) {
			if (meta->len != want &&
			    _PyBytes_Resize(&b, (Py_ssize_t)meta->len))
				return NULL;
			return b;
		}
		Py_DECREF(b);
	}
	if (rc == PLKV_ENOTFOUND)
		return Py_None;
	return raise_rc(rc);
}

static PyObject *not_found(PyObject *dflt, PyObject *cas_dflt)
{
	return cas_dflt ? PyTuple_Pack(2, dflt, cas_dflt) : Py_NewRef(dflt);
}

/* With ignore_exc, read errors other than bad keys are misses. */
static PyObject *read_failed(Client *c, PyObject *dflt, PyObject *cas_dflt)
{
	if (!c->ignore_exc || PyErr_ExceptionMatches(err_illegal))
		return NULL;
	PyErr_Clear();
	return not_found(dflt, cas_dflt);
}

/* cas_dflt NULL: a get or gat; else gets or gats, which return
 * (value, cas). */
static PyObject *get_common(Client *c, PyObject *key, bool touch,
			    int64_t exptime, PyObject *dflt,
			    PyObject *cas_dflt)
{
	struct plkv_meta meta;
	struct ckey k;
	PyObject *v;

	if (check_key(c, key, &k))
		return NULL;
	if (op_begin(c))
		return read_failed(c, dflt, cas_dflt);
	v = fetch(c, &k, touch, exptime, &meta);
	op_end(c);
	if (v == Py_None)
		return not_found(dflt, cas_dflt);
	v = from_val(c, key, v, meta.flags);
	if (!v)
		return read_failed(c, dflt, cas_dflt);
	if (!cas_dflt)
		return v;
	return Py_BuildValue("(NN)", v, cas_bytes(meta.cas));
}

static PyObject *Client_get(Client *c, PyObject *const *args,
			    Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "default" };
	PyObject *a[2];

	if (unlikely(kwnames) || nargs != 1) {
		if (parse("get", args, nargs, kwnames, names, 2, 1, a))
			return NULL;
	} else {
		a[0] = args[0];
		a[1] = NULL;
	}
	return get_common(c, a[0], false, 0, a[1] ? a[1] : Py_None, NULL);
}

static PyObject *Client_gets(Client *c, PyObject *const *args,
			     Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "default", "cas_default" };
	PyObject *a[3];

	if (parse("gets", args, nargs, kwnames, names, 3, 1, a))
		return NULL;
	return get_common(c, a[0], false, 0, a[1] ? a[1] : Py_None,
			  a[2] ? a[2] : Py_None);
}

static PyObject *Client_gat(Client *c, PyObject *const *args,
			    Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "expire", "default" };
	PyObject *a[3];
	long long exp;

	if (parse("gat", args, nargs, kwnames, names, 3, 1, a) ||
	    int_arg(a[1], "expire", 0, &exp))
		return NULL;
	return get_common(c, a[0], true, exp, a[2] ? a[2] : Py_None, NULL);
}

static PyObject *Client_gats(Client *c, PyObject *const *args,
			     Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "expire", "default",
					      "cas_default" };
	PyObject *a[4];
	long long exp;

	if (parse("gats", args, nargs, kwnames, names, 4, 1, a) ||
	    int_arg(a[1], "expire", 0, &exp))
		return NULL;
	return get_common(c, a[0], true, exp, a[2] ? a[2] : Py_None,
			  a[3] ? a[3] : Py_None);
}

/*
 * get_many/gets_many: one plkv_mget() for the lot, values packed into one
 * buffer; one that doesn't fit there is fetched alone.  The result maps
 * the caller's keys, as given, to values.
 */
static PyObject *get_many_common(Client *c, PyObject *keys, bool with_cas)
{
	struct plkv_mget_key *mk = NULL;
	struct ckey *ck = NULL;
	PyObject *seq, *result = NULL, *v, *item;
	char *buf = NULL;
	Py_ssize_t n, i;
	bool began = false;
	int rc;

	seq = PySequence_Fast(keys, "keys must be iterable");
	if (!seq)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	result = PyDict_New();
	if (!result || n == 0)
		goto out;
	ck = PyMem_Malloc(sizeof(*ck) * (size_t)n);
	mk = PyMem_Calloc((size_t)n, sizeof(*mk));
	if (!ck || !mk) {
		PyErr_NoMemory();
		goto fail;
	}
	for (i = 0; i < n; i++) {
		if (check_key(c, PySequence_Fast_GET_ITEM(seq, i), &ck[i]))
			goto fail;
		mk[i].key = ck[i].b;
		mk[i].klen = ck[i].len;
	}
	if (op_begin(c))
		goto failed_read;
	began = true;
	buf = PyMem_Malloc(MGET_BUF);
	if (!buf) {
		PyErr_NoMemory();
		goto fail;
	}
	CALL(c, false,
	     rc = plkv_mget(c->kv, mk, (size_t)n, buf, MGET_BUF));
	if (rc) {
		raise_rc(rc);
		goto failed_read;
	}
	for (i = 0; i < n; i++) {
		struct plkv_meta meta = mk[i].meta;
		PyObject *key = PySequence_Fast_GET_ITEM(seq, i);

		if (mk[i].rc == 0)
			v = PyBytes_FromStringAndSize(buf + mk[i].off,
						      (Py_ssize_t)meta.len);
		else if (mk[i].rc == PLKV_ETOOSMALL)
			v = fetch(c, &ck[i], false, 0, &meta);
		else if (mk[i].rc == PLKV_ENOTFOUND)
			continue;
		else
			v = raise_rc(mk[i].rc);
		if (v == Py_None)
			continue;
		v = from_val(c, key, v, meta.flags);
		if (!v)
			goto failed_read;
		item = with_cas ? Py_BuildValue("(NN)", v, cas_bytes(meta.cas)) :
				  v;
		if (!item || PyDict_SetItem(result, key, item)) {
			Py_XDECREF(item);
			goto failed_read;
		}
		Py_DECREF(item);
	}
	goto out;
failed_read:
	if (c->ignore_exc && !PyErr_ExceptionMatches(err_illegal)) {
		PyErr_Clear();
		Py_DECREF(result);
		result = PyDict_New();
		goto out;
	}
fail:
	Py_CLEAR(result);
out:
	if (began)
		op_end(c);
	PyMem_Free(buf);
	PyMem_Free(ck);
	PyMem_Free(mk);
	Py_DECREF(seq);
	return result;
}

static PyObject *Client_get_many(Client *c, PyObject *keys)
{
	return get_many_common(c, keys, false);
}

static PyObject *Client_gets_many(Client *c, PyObject *keys)
{
	return get_many_common(c, keys, true);
}

/* ---- stores ------------------------------------------------------------ */

/* One store: 0, or the library's code for "not stored"; -1 with an
 * exception. */
static int store_one(Client *c, int mode, PyObject *key, PyObject *value,
		     int64_t exptime, PyObject *flags, uint64_t cas)
{
	struct ckey k;
	struct val v;
	int rc;

	if (check_key(c, key, &k) || to_val(c, &k, value, flags, &v))
		return -1;
	if (op_begin(c)) {
		val_release(&v);
		return -1;
	}
	CALL(c, false,
	     rc = plkv_store(c->kv, mode, k.b, k.len, v.p, v.len, v.flags,
			     exptime, cas, NULL));
	op_end(c);
	val_release(&v);
	switch (rc) {
	case 0:
	case PLKV_ENOTSTORED:
	case PLKV_EEXISTS:
	case PLKV_ENOTFOUND:
		return rc;
	default:
		raise_rc(rc);
		return -1;
	}
}

/* pymemcache's STORE_RESULTS_VALUE: STORED True, NOT_STORED and EXISTS
 * False, NOT_FOUND None. */
static PyObject *store_result(int rc, int noreply)
{
	if (rc < 0 && rc != PLKV_ENOTSTORED && rc != PLKV_EEXISTS &&
	    rc != PLKV_ENOTFOUND)
		return NULL;
	if (noreply || rc == 0)
		Py_RETURN_TRUE;
	if (rc == PLKV_ENOTFOUND)
		Py_RETURN_NONE;
	Py_RETURN_FALSE;
}

static PyObject *store_cmd(Client *c, int mode, const char *fn,
			   PyObject *const *args, Py_ssize_t nargs,
			   PyObject *kwnames)
{
	static const char *const names[] = { "key", "value", "expire",
					      "noreply", "flags" };
	PyObject *a[5];
	long long exp;
	int noreply, rc;

	if (parse(fn, args, nargs, kwnames, names, 5, 2, a) ||
	    int_arg(a[2], "expire", 0, &exp))
		return NULL;
	noreply = noreply_arg(c, a[3], -1);
	if (noreply < 0)
		return NULL;
	rc = store_one(c, mode, a[0], a[1], exp, a[4], 0);
	return rc == -1 ? NULL : store_result(rc, noreply);
}

#define STORE_METHOD(name, mode)					\
	static PyObject *Client_##name(Client *c, PyObject *const *args, \
				       Py_ssize_t nargs,		\
				       PyObject *kwnames)		\
	{								\
		return store_cmd(c, mode, #name, args, nargs, kwnames);	\
	}
STORE_METHOD(set, PLKV_SET)
STORE_METHOD(add, PLKV_ADD)
STORE_METHOD(replace, PLKV_REPLACE)
STORE_METHOD(append, PLKV_APPEND)
STORE_METHOD(prepend, PLKV_PREPEND)

static int cas_zero(Client *c, PyObject *key)
{
	struct ckey k;
	int rc;

	if (check_key(c, key, &k) || op_begin(c))
		return -1;
	CALL(c, false, rc = plkv_peek(c->kv, k.b, k.len, NULL));
	op_end(c);
	if (rc && rc != PLKV_ENOTFOUND) {
		raise_rc(rc);
		return -1;
	}
	return rc ? PLKV_ENOTFOUND : PLKV_EEXISTS;
}

/* pymemcache's _check_cas: an int, or str/bytes of digits only. */
static int cas_arg(PyObject *o, uint64_t *cas)
{
	PyObject *s = NULL;
	const char *p;
	char *end;

	if (PyLong_Check(o))
		s = PyObject_Str(o);
	else if (PyUnicode_Check(o) || PyBytes_Check(o))
		s = Py_NewRef(o);
	if (!s) {
		if (!PyErr_Occurred())
			PyErr_Format(err_illegal,
				     "cas must be integer, string, or bytes, got bad value: %R",
				     o);
		return -1;
	}
	p = PyBytes_Check(s) ? PyBytes_AS_STRING(s) : PyUnicode_AsUTF8(s);
	if (!p) {
		Py_DECREF(s);
		return -1;
	}
	errno = 0;
	*cas = strtoull(p, &end, 10);
	if (!*p || *end || *p == '-' || *p == '+' || *p == ' ' || errno) {
		PyErr_Format(err_illegal,
			     "cas must only contain values in 0-9, got bad value: %R",
			     o);
		Py_DECREF(s);
		return -1;
	}
	Py_DECREF(s);
	return 0;
}

static PyObject *Client_cas(Client *c, PyObject *const *args,
			    Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "value", "cas", "expire",
					      "noreply", "flags" };
	PyObject *a[6];
	long long exp;
	uint64_t cas;
	int noreply, rc;

	if (parse("cas", args, nargs, kwnames, names, 6, 3, a) ||
	    cas_arg(a[2], &cas) || int_arg(a[3], "expire", 0, &exp))
		return NULL;
	noreply = noreply_arg(c, a[4], 0);
	if (noreply < 0)
		return NULL;
	/* No item has CAS 0, so memcached answers EXISTS or NOT_FOUND;
	 * plkv's cas_in 0 would mean "no compare". */
	if (cas == 0)
		rc = cas_zero(c, a[0]);
	else
		rc = store_one(c, PLKV_CAS, a[0], a[1], exp, a[5], cas);
	return rc == -1 ? NULL : store_result(rc, noreply);
}

static PyObject *Client_set_many(Client *c, PyObject *const *args,
				 Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "values", "expire", "noreply",
					      "flags" };
	PyObject *a[4], *failed, *key, *value, *items = NULL;
	Py_ssize_t pos = 0;
	long long exp;
	int noreply, rc;

	if (parse("set_many", args, nargs, kwnames, names, 4, 1, a) ||
	    int_arg(a[1], "expire", 0, &exp))
		return NULL;
	noreply = noreply_arg(c, a[2], -1);
	if (noreply < 0)
		return NULL;
	if (!PyDict_Check(a[0])) {
		items = PyMapping_Items(a[0]);
		if (!items)
			return NULL;
	}
	failed = PyList_New(0);
	if (!failed)
		goto fail;
	for (;;) {
		if (items) {
			PyObject *kv;

			if (pos >= PyList_GET_SIZE(items))
				break;
			kv = PyList_GET_ITEM(items, pos++);
			if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
				PyErr_SetString(PyExc_TypeError,
						"values must map keys to values");
				goto fail;
			}
			key = PyTuple_GET_ITEM(kv, 0);
			value = PyTuple_GET_ITEM(kv, 1);
		} else if (!PyDict_Next(a[0], &pos, &key, &value)) {
			break;
		}
		rc = store_one(c, PLKV_SET, key, value, exp, a[3], 0);
		if (rc == -1)
			goto fail;
		if (rc && !noreply && PyList_Append(failed, key))
			goto fail;
	}
	Py_XDECREF(items);
	return failed;
fail:
	Py_XDECREF(items);
	Py_XDECREF(failed);
	return NULL;
}

/* ---- other commands ---------------------------------------------------- */

static PyObject *Client_delete(Client *c, PyObject *const *args,
			       Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "noreply" };
	PyObject *a[2];
	struct ckey k;
	int noreply, rc;

	if (parse("delete", args, nargs, kwnames, names, 2, 1, a) ||
	    check_key(c, a[0], &k))
		return NULL;
	noreply = noreply_arg(c, a[1], -1);
	if (noreply < 0 || op_begin(c))
		return NULL;
	CALL(c, false, rc = plkv_delete(c->kv, k.b, k.len));
	op_end(c);
	if (rc && rc != PLKV_ENOTFOUND)
		return raise_rc(rc);
	return PyBool_FromLong(noreply || rc == 0);
}

static PyObject *Client_delete_many(Client *c, PyObject *const *args,
				    Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "keys", "noreply" };
	PyObject *a[2], *seq;
	struct ckey *ck;
	Py_ssize_t n, i;
	int rc = 0;

	if (parse("delete_many", args, nargs, kwnames, names, 2, 1, a) ||
	    noreply_arg(c, a[1], -1) < 0)
		return NULL;
	seq = PySequence_Fast(a[0], "keys must be iterable");
	if (!seq)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	ck = PyMem_Malloc(sizeof(*ck) * (size_t)(n ? n : 1));
	if (!ck) {
		Py_DECREF(seq);
		return PyErr_NoMemory();
	}
	/* Every key checked before the first delete, as pymemcache builds
	 * every command before sending any. */
	for (i = 0; i < n && rc == 0; i++)
		rc = check_key(c, PySequence_Fast_GET_ITEM(seq, i), &ck[i]);
	if (rc == 0 && n)
		rc = op_begin(c);
	if (rc == 0 && n) {
		CALL(c, false,
		     for (i = 0; i < n && (rc == 0 || rc == PLKV_ENOTFOUND); i++)
			     rc = plkv_delete(c->kv, ck[i].b, ck[i].len));
		op_end(c);
		if (rc && rc != PLKV_ENOTFOUND)
			raise_rc(rc);
		else
			rc = 0;
	}
	PyMem_Free(ck);
	Py_DECREF(seq);
	if (rc)
		return NULL;
	Py_RETURN_TRUE;
}

static PyObject *arith_cmd(Client *c, bool decr, const char *fn,
			   PyObject *const *args, Py_ssize_t nargs,
			   PyObject *kwnames)
{
	static const char *const names[] = { "key", "value", "noreply" };
	PyObject *a[3];
	unsigned long long delta;
	uint64_t result;
	struct ckey k;
	int noreply, rc;

	if (parse(fn, args, nargs, kwnames, names, 3, 2, a) ||
	    check_key(c, a[0], &k))
		return NULL;
	if (!PyLong_Check(a[1])) {
		PyErr_Format(err_illegal,
			     "value must be integer, got bad value: %R", a[1]);
		return NULL;
	}
	delta = PyLong_AsUnsignedLongLong(a[1]);
	if (delta == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_SetString(err_client, "invalid numeric delta argument");
		return NULL;
	}
	noreply = noreply_arg(c, a[2], 0);
	if (noreply < 0 || op_begin(c))
		return NULL;
	CALL(c, false,
	     rc = decr ? plkv_decr(c->kv, k.b, k.len, delta, &result) :
			 plkv_incr(c->kv, k.b, k.len, delta, &result));
	op_end(c);
	if (rc && rc != PLKV_ENOTFOUND)
		return raise_rc(rc);
	if (noreply || rc)
		Py_RETURN_NONE;
	return PyLong_FromUnsignedLongLong(result);
}

static PyObject *Client_incr(Client *c, PyObject *const *args,
			     Py_ssize_t nargs, PyObject *kwnames)
{
	return arith_cmd(c, false, "incr", args, nargs, kwnames);
}

static PyObject *Client_decr(Client *c, PyObject *const *args,
			     Py_ssize_t nargs, PyObject *kwnames)
{
	return arith_cmd(c, true, "decr", args, nargs, kwnames);
}

static PyObject *Client_touch(Client *c, PyObject *const *args,
			      Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "key", "expire", "noreply" };
	PyObject *a[3];
	struct ckey k;
	long long exp;
	int noreply, rc;

	if (parse("touch", args, nargs, kwnames, names, 3, 1, a) ||
	    check_key(c, a[0], &k) || int_arg(a[1], "expire", 0, &exp))
		return NULL;
	noreply = noreply_arg(c, a[2], -1);
	if (noreply < 0 || op_begin(c))
		return NULL;
	CALL(c, false, rc = plkv_touch(c->kv, k.b, k.len, exp));
	op_end(c);
	if (rc && rc != PLKV_ENOTFOUND)
		return raise_rc(rc);
	return PyBool_FromLong(noreply || rc == 0);
}

static PyObject *Client_flush_all(Client *c, PyObject *const *args,
				  Py_ssize_t nargs, PyObject *kwnames)
{
	static const char *const names[] = { "delay", "noreply" };
	PyObject *a[2];
	long long delay;
	int rc;

	if (parse("flush_all", args, nargs, kwnames, names, 2, 0, a) ||
	    int_arg(a[0], "delay", 0, &delay) || noreply_arg(c, a[1], -1) < 0 ||
	    op_begin(c))
		return NULL;
	CALL(c, false, rc = plkv_flush_all(c->kv, delay));
	op_end(c);
	if (rc)
		return raise_rc(rc);
	Py_RETURN_TRUE;
}

static PyObject *Client_version(Client *c, PyObject *unused)
{
	(void)c;
	(void)unused;
	return PyBytes_FromFormat("%s-plkv-%s", PLKV_MEMCACHED_VERSION,
				  plkv_version());
}

static int stat_cb(void *ctx, const char *name, const char *value)
{
	PyObject *pair = Py_BuildValue("(y y)", name, value);
	int rc;

	if (!pair)
		return -ENOMEM;
	rc = PyList_Append(ctx, pair);
	Py_DECREF(pair);
	return rc ? -ENOMEM : 0;
}

/* _stats(group): [(name, value)] as bytes; plkv.Client.stats types them. */
static PyObject *Client__stats(Client *c, PyObject *args)
{
	const char *group = NULL;
	PyObject *list;
	int rc;

	if (!PyArg_ParseTuple(args, "|z:_stats", &group))
		return NULL;
	list = PyList_New(0);
	if (!list || op_begin(c)) {
		Py_XDECREF(list);
		return NULL;
	}
	rc = plkv_stats(c->kv, group, stat_cb, list);
	op_end(c);
	if (rc) {
		Py_DECREF(list);
		if (PyErr_Occurred())
			return NULL;
		if (rc == -EINVAL) {
			PyErr_Format(err_client, "unknown stats group %s", group);
			return NULL;
		}
		return raise_rc(rc);
	}
	return list;
}

static PyObject *Client_check(Client *c, PyObject *unused)
{
	char msg[512];
	int rc;

	(void)unused;
	if (op_begin(c))
		return NULL;
	CALL(c, true, rc = plkv_check(c->kv, msg, sizeof(msg)));
	op_end(c);
	if (rc == PLKV_ECORRUPT) {
		PyErr_Format(err_server, "store corrupt: %s", msg);
		return NULL;
	}
	if (rc)
		return raise_rc(rc);
	Py_RETURN_TRUE;
}

static PyObject *Client_check_key(Client *c, PyObject *key)
{
	struct ckey k;

	if (check_key(c, key, &k))
		return NULL;
	return PyBytes_FromStringAndSize(k.b, (Py_ssize_t)k.len);
}

static PyObject *Client_close(Client *c, PyObject *unused)
{
	(void)unused;
	if (c->inflight)
		c->close_pending = true;
	else
		do_close(c);
	Py_RETURN_NONE;
}

/* ---- the type ---------------------------------------------------------- */

static int backend_arg(PyObject *o, int *backend)
{
	const char *s;

	*backend = PLKV_BACKEND_AUTO;
	if (!o || o == Py_None)
		return 0;
	s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
	if (s && !strcmp(s, "user"))
		*backend = PLKV_BACKEND_USER;
	else if (s && !strcmp(s, "kmod"))
		*backend = PLKV_BACKEND_KMOD;
	else if (!s || strcmp(s, "auto")) {
		PyErr_Format(PyExc_ValueError,
			     "backend must be 'user', 'kmod' or None, not %R", o);
		return -1;
	}
	return 0;
}

static int gil_arg(PyObject *o, int *gil)
{
	if (!o || o == Py_None) {
		*gil = GIL_AUTO;
		return 0;
	}
	*gil = PyObject_IsTrue(o);
	if (*gil < 0)
		return -1;
	*gil = *gil ? GIL_ALWAYS : GIL_NEVER;
	return 0;
}

static int Client_init(Client *c, PyObject *args, PyObject *kw)
{
	static char *names[] = { "segment", "create", "size", "serde",
				 "key_prefix", "default_noreply",
				 "allow_unicode_keys", "encoding", "ignore_exc",
				 "backend", "any_owner", "item_size_max",
				 "release_gil", NULL };
	PyObject *segment = Py_None, *size = Py_None, *serde = Py_None;
	PyObject *prefix = NULL, *encoding = NULL, *backend = Py_None;
	PyObject *item_max = Py_None, *gil = Py_None;
	int create = 0, noreply = 1, unicode = 0, ignore = 0, any = 0;
	char msg[256];

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$pOOOppUpOpOO:Client",
					 names, &segment, &create, &size,
					 &serde, &prefix, &noreply, &unicode,
					 &encoding, &ignore, &backend, &any,
					 &item_max, &gil))
		return -1;
	do_close(c);
	plkv_options_init(&c->opts);
	c->has_segment = segment != Py_None;
	if (c->has_segment) {
		const char *s;
		Py_ssize_t n;

		if (PyBytes_Check(segment)) {
			s = PyBytes_AS_STRING(segment);
			n = PyBytes_GET_SIZE(segment);
		} else if (PyUnicode_Check(segment)) {
			s = PyUnicode_AsUTF8AndSize(segment, &n);
			if (!s)
				return -1;
		} else {
			PyErr_SetString(PyExc_TypeError,
					"segment must be a str name or None");
			return -1;
		}
		if (n <= 0 || n >= (Py_ssize_t)sizeof(c->segment) ||
		    memchr(s, 0, (size_t)n)) {
			PyErr_Format(PyExc_ValueError,
				     "segment name must be 1-63 characters, got %R",
				     segment);
			return -1;
		}
		memcpy(c->segment, s, (size_t)n);
		c->segment[n] = '\0';
	}
	c->opts.flags &= ~PLKV_O_CREATE;	/* the library's default */
	if (create)
		c->opts.flags |= PLKV_O_CREATE;
	if (any)
		c->opts.flags |= PLKV_O_ANY_OWNER;
	if (size != Py_None) {
		c->opts.mem_limit = PyLong_AsUnsignedLongLong(size);
		if (PyErr_Occurred())
			return -1;
	}
	if (item_max != Py_None) {
		unsigned long v = PyLong_AsUnsignedLong(item_max);

		if (PyErr_Occurred())
			return -1;
		if (v > UINT32_MAX) {
			PyErr_SetString(PyExc_ValueError,
					"item_size_max out of range");
			return -1;
		}
		c->opts.item_size_max = (uint32_t)v;
	}
	if (backend_arg(backend, &c->opts.backend) || gil_arg(gil, &c->gil))
		return -1;
	if (plkv_options_check(&c->opts, msg, sizeof(msg))) {
		PyErr_Format(PyExc_ValueError, "%s", msg);
		return -1;
	}
	if (prefix && PyUnicode_Check(prefix)) {
		prefix = PyUnicode_AsASCIIString(prefix);
		if (!prefix)
			return -1;
	} else if (prefix && !PyBytes_Check(prefix)) {
		PyErr_SetString(PyExc_TypeError, "key_prefix should be bytes.");
		return -1;
	} else {
		prefix = prefix ? Py_NewRef(prefix) : PyBytes_FromString("");
		if (!prefix)
			return -1;
	}
	if (PyBytes_GET_SIZE(prefix) > KEY_MAX) {
		Py_DECREF(prefix);
		PyErr_SetString(PyExc_ValueError, "key_prefix is over 250 bytes");
		return -1;
	}
	Py_XSETREF(c->key_prefix, prefix);
	Py_XSETREF(c->serde, serde == Py_None ? NULL : Py_NewRef(serde));
	Py_XSETREF(c->encoding,
		   encoding ? Py_NewRef(encoding) : PyUnicode_FromString("ascii"));
	if (!c->encoding)
		return -1;
	c->default_noreply = noreply;
	c->allow_unicode_keys = unicode;
	c->ignore_exc = ignore;
	return do_open(c);
}

static PyObject *Client_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	Client *c = (Client *)type->tp_alloc(type, 0);

	(void)args;
	(void)kw;
	if (c)
		c->gil = GIL_AUTO;
	return (PyObject *)c;
}

static int Client_traverse(Client *c, visitproc visit, void *arg)
{
	Py_VISIT(c->serde);
	return 0;
}

static int Client_clear(Client *c)
{
	Py_CLEAR(c->serde);
	return 0;
}

static void Client_dealloc(Client *c)
{
	PyObject_GC_UnTrack(c);
	do_close(c);
	Client_clear(c);
	Py_CLEAR(c->key_prefix);
	Py_CLEAR(c->encoding);
	Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *Client_get_segment(Client *c, void *unused)
{
	(void)unused;
	if (!c->has_segment)
		Py_RETURN_NONE;
	return PyUnicode_FromString(c->segment);
}

static PyObject *Client_get_closed(Client *c, void *unused)
{
	(void)unused;
	return PyBool_FromLong(!c->kv || c->close_pending);
}

static PyObject *Client_get_release_gil(Client *c, void *unused)
{
	(void)unused;
	if (c->gil == GIL_AUTO)
		Py_RETURN_NONE;
	return PyBool_FromLong(c->gil == GIL_ALWAYS);
}

static int Client_set_release_gil(Client *c, PyObject *v, void *unused)
{
	(void)unused;
	if (!v) {
		PyErr_SetString(PyExc_AttributeError, "can't delete release_gil");
		return -1;
	}
	return gil_arg(v, &c->gil);
}

static PyGetSetDef Client_getset[] = {
	{ "segment", (getter)Client_get_segment, NULL,
	  "The store's name as given (None: PLKV_SEGMENT, else \"plkv\").",
	  NULL },
	{ "closed", (getter)Client_get_closed, NULL,
	  "True after close(), until the next call reopens.", NULL },
	{ "release_gil", (getter)Client_get_release_gil,
	  (setter)Client_set_release_gil,
	  "None: release the GIL only around check(); "
	  "True: around every library call; False: never.", NULL },
	{ NULL }
};

static PyMemberDef Client_members[] = {
	{ "serde", T_OBJECT, offsetof(Client, serde), READONLY, NULL },
	{ "key_prefix", T_OBJECT, offsetof(Client, key_prefix), READONLY,
	  NULL },
	{ "encoding", T_OBJECT, offsetof(Client, encoding), READONLY, NULL },
	{ "default_noreply", T_BOOL, offsetof(Client, default_noreply), 0,
	  NULL },
	{ "allow_unicode_keys", T_BOOL, offsetof(Client, allow_unicode_keys),
	  READONLY, NULL },
	{ "ignore_exc", T_BOOL, offsetof(Client, ignore_exc), 0, NULL },
	{ NULL }
};

#define FAST (METH_FASTCALL | METH_KEYWORDS)

static PyMethodDef Client_methods[] = {
	{ "get", (PyCFunction)(void (*)(void))Client_get, FAST, NULL },
	{ "gets", (PyCFunction)(void (*)(void))Client_gets, FAST, NULL },
	{ "gat", (PyCFunction)(void (*)(void))Client_gat, FAST, NULL },
	{ "gats", (PyCFunction)(void (*)(void))Client_gats, FAST, NULL },
	{ "get_many", (PyCFunction)Client_get_many, METH_O, NULL },
	{ "get_multi", (PyCFunction)Client_get_many, METH_O, NULL },
	{ "gets_many", (PyCFunction)Client_gets_many, METH_O, NULL },
	{ "set", (PyCFunction)(void (*)(void))Client_set, FAST, NULL },
	{ "set_many", (PyCFunction)(void (*)(void))Client_set_many, FAST, NULL },
	{ "set_multi", (PyCFunction)(void (*)(void))Client_set_many, FAST,
	  NULL },
	{ "add", (PyCFunction)(void (*)(void))Client_add, FAST, NULL },
	{ "replace", (PyCFunction)(void (*)(void))Client_replace, FAST, NULL },
	{ "append", (PyCFunction)(void (*)(void))Client_append, FAST, NULL },
	{ "prepend", (PyCFunction)(void (*)(void))Client_prepend, FAST, NULL },
	{ "cas", (PyCFunction)(void (*)(void))Client_cas, FAST, NULL },
	{ "incr", (PyCFunction)(void (*)(void))Client_incr, FAST, NULL },
	{ "decr", (PyCFunction)(void (*)(void))Client_decr, FAST, NULL },
	{ "delete", (PyCFunction)(void (*)(void))Client_delete, FAST, NULL },
	{ "delete_many", (PyCFunction)(void (*)(void))Client_delete_many, FAST,
	  NULL },
	{ "delete_multi", (PyCFunction)(void (*)(void))Client_delete_many,
	  FAST, NULL },
	{ "touch", (PyCFunction)(void (*)(void))Client_touch, FAST, NULL },
	{ "flush_all", (PyCFunction)(void (*)(void))Client_flush_all, FAST,
	  NULL },
	{ "version", (PyCFunction)Client_version, METH_NOARGS, NULL },
	{ "check", (PyCFunction)Client_check, METH_NOARGS, NULL },
	{ "check_key", (PyCFunction)Client_check_key, METH_O, NULL },
	{ "close", (PyCFunction)Client_close, METH_NOARGS, NULL },
	{ "_stats", (PyCFunction)Client__stats, METH_VARARGS, NULL },
	{ NULL }
};

static PyTypeObject ClientType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "plkv._plkv.Client",
	.tp_basicsize = sizeof(Client),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
		    Py_TPFLAGS_HAVE_GC,
	.tp_doc = "A process's handle on a plkv store (see plkv.Client).",
	.tp_new = Client_new,
	.tp_init = (initproc)Client_init,
	.tp_dealloc = (destructor)Client_dealloc,
	.tp_traverse = (traverseproc)Client_traverse,
	.tp_clear = (inquiry)Client_clear,
	.tp_methods = Client_methods,
	.tp_members = Client_members,
	.tp_getset = Client_getset,
};

static PyObject *plkv_py_destroy(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char *names[] = { "segment", "backend", NULL };
	PyObject *backend = Py_None;
	const char *name;
	int b, rc;

	(void)mod;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "z|$O:destroy", names, &name,
					 &backend) ||
	    backend_arg(backend, &b))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	rc = plkv_destroy(name, b);
	Py_END_ALLOW_THREADS
	if (rc)
		return raise_open(name, rc);
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{ "destroy", (PyCFunction)(void (*)(void))plkv_py_destroy,
	  METH_VARARGS | METH_KEYWORDS,
	  "destroy(segment, *, backend=None): remove the store named segment "
	  "(None: $PLKV_SEGMENT, else \"plkv\").  Processes attached keep "
	  "using it until they close it." },
	{ NULL }
};

static struct PyModuleDef plkv_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "plkv._plkv",
	.m_doc = "libplkv's Client type; use plkv.Client.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__plkv(void)
{
	PyObject *m, *errors;

	if (PyType_Ready(&ClientType) < 0)
		return NULL;
	errors = PyImport_ImportModule("plkv.errors");
	if (!errors)
		return NULL;
	err_client = PyObject_GetAttrString(errors, "MemcacheClientError");
	err_illegal = PyObject_GetAttrString(errors,
					     "MemcacheIllegalInputError");
	err_server = PyObject_GetAttrString(errors, "MemcacheServerError");
	Py_DECREF(errors);
	if (!err_client || !err_illegal || !err_server)
		return NULL;
	if (pthread_atfork(NULL, NULL, atfork_child)) {
		PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
		return NULL;
	}
	m = PyModule_Create(&plkv_module);
	if (!m)
		return NULL;
	if (PyModule_AddObjectRef(m, "Client", (PyObject *)&ClientType) ||
	    PyModule_AddStringConstant(m, "LIBRARY_VERSION", plkv_version())) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
