/* otr._decaf: Ed448-Goldilocks scalar multiplication through libdecaf.
 *
 * OTRv4 (otr-v4.md "Elliptic Curve Operations") does all its public-key work on
 * Ed448: the DAKE's ring signatures, ECDH, Client Profile signatures and SMP's
 * zero-knowledge proofs.  pycryptodome (the pure fallback of otr.crypto.ed448)
 * multiplies a point by a scalar in about 170 us; libdecaf, Mike Hamburg's
 * reference Ed448 implementation (Debian libdecaf-dev), does a variable-base
 * multiplication in about 110 us, a multiple of the base point from its
 * precomputed table in about 30 us, and the a*G + b*P of signature verification
 * in about 95 us.
 *
 * libdecaf works in the decaf group, the prime-order quotient of the curve.  Its
 * EdDSA codec is not an identity: decoding an RFC 8032 encoding of E gives the
 * decaf element of E ("decode ratio" 1), encoding a decaf element V gives the
 * RFC 8032 encoding of 4V ("encode ratio" 4).  A Point448 therefore carries
 * a flag r4: the Ed448 point it stands for is E = 4V when set, E = V when not.
 * Multiplying by k folds the ratio into the scalar (V' = (k r / 4) V with r the
 * point's ratio, and the result has r4 set), so a product encodes with no extra
 * work; a point straight from the wire has r4 clear and only needs a division by
 * four (one more multiplication) if it is encoded again, which the Python side
 * never asks for (it keeps the encoding it decoded).
 *
 * The decaf group forgets the 4-torsion: only points of the prime-order
 * subgroup can be represented faithfully.  The Python side (otr.crypto.ed448)
 * validates every point (RFC 8032 decoding, then q*P = I) before it hands its
 * encoding to Point448.decode, and keeps pycryptodome for any other point.
 *
 * Point448.mul, base_mul and double_mul are constant-time in the scalars (they
 * take secrets: private keys, nonces); base_double_mul_public is not and is only
 * used to verify signatures and proofs, whose scalars are public.  Scalars are
 * 57-byte little-endian strings (the SCALAR encoding), reduced mod q here, and
 * wiped after use.  The GIL is released during each multiplication.
 *
 * Interface: see _decaf.pyi.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include <decaf/point_448.h>
#include <decaf/ed448.h>

#define POINT_BYTES DECAF_EDDSA_448_PUBLIC_BYTES /* 57 */

typedef struct {
    PyObject_HEAD
    decaf_448_point_t v;
    int r4; /* the Ed448 point is 4 * v (set) or v (clear) */
} Point448Object;

static PyTypeObject Point448Type;
static decaf_448_scalar_t quarter; /* 1/4 mod q */

static Point448Object *point_new(void) {
    return PyObject_New(Point448Object, &Point448Type);
}

static void point_dealloc(Point448Object *self) {
    decaf_448_point_destroy(self->v);
    PyObject_Free(self);
}

/* The decaf element of the Ed448 point itself (ratio 1): 4v when r4 is set. */
static void as_ratio1(decaf_448_point_t out, const Point448Object *p) {
    if (p->r4) {
        decaf_448_point_double(out, p->v);
        decaf_448_point_double(out, out);
    } else {
        memcpy(out, p->v, sizeof(decaf_448_point_t));
    }
}

/* A scalar argument: bytes, little-endian, any length up to 114, reduced mod q. */
static int get_scalar(PyObject *obj, decaf_448_scalar_t out) {
    char *buf;
    Py_ssize_t len;
    if (!PyBytes_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "a scalar is given as bytes");
        return -1;
    }
    if (PyBytes_AsStringAndSize(obj, &buf, &len) < 0)
        return -1;
    if (len > 2 * DECAF_448_SCALAR_BYTES) {
        PyErr_SetString(PyExc_ValueError, "a scalar is at most 114 bytes");
        return -1;
    }
    decaf_448_scalar_decode_long(out, (const unsigned char *)buf, (size_t)len);
    return 0;
}

/* The scalar that multiplies p's v so that the result, with r4 set, is k E. */
static void fold_ratio(decaf_448_scalar_t s, const Point448Object *p) {
    if (!p->r4)
        decaf_448_scalar_mul(s, s, quarter);
}

static int check_point(PyObject *obj) {
    if (!PyObject_TypeCheck(obj, &Point448Type)) {
        PyErr_SetString(PyExc_TypeError, "expected a Point448");
        return -1;
    }
    return 0;
}

static PyObject *point_decode(PyObject *cls, PyObject *arg) {
    char *buf;
    Py_ssize_t len;
    if (!PyBytes_Check(arg) || PyBytes_AsStringAndSize(arg, &buf, &len) < 0 || len != POINT_BYTES) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a POINT is 57 bytes");
        return NULL;
    }
    Point448Object *out = point_new();
    if (out == NULL)
        return NULL;
    out->r4 = 0;
    if (decaf_448_point_decode_like_eddsa_and_mul_by_ratio(out->v, (const uint8_t *)buf) != DECAF_SUCCESS) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_ValueError, "not a point of Ed448");
        return NULL;
    }
    return (PyObject *)out;
}

static PyObject *point_encode(Point448Object *self, PyObject *Py_UNUSED(ignored)) {
    uint8_t enc[POINT_BYTES];
    if (self->r4) {
        decaf_448_point_mul_by_ratio_and_encode_like_eddsa(enc, self->v);
    } else {
        decaf_448_point_t w;
        Py_BEGIN_ALLOW_THREADS
        decaf_448_point_scalarmul(w, self->v, quarter);
        Py_END_ALLOW_THREADS
        decaf_448_point_mul_by_ratio_and_encode_like_eddsa(enc, w);
        decaf_448_point_destroy(w);
    }
    return PyBytes_FromStringAndSize((const char *)enc, POINT_BYTES);
}

static PyObject *point_mul(Point448Object *self, PyObject *arg) {
    decaf_448_scalar_t s;
    if (get_scalar(arg, s) < 0)
        return NULL;
    fold_ratio(s, self);
    Point448Object *out = point_new();
    if (out != NULL) {
        out->r4 = 1;
        Py_BEGIN_ALLOW_THREADS
        decaf_448_point_scalarmul(out->v, self->v, s);
        Py_END_ALLOW_THREADS
    }
    decaf_448_scalar_destroy(s);
    return (PyObject *)out;
}

static PyObject *add_or_sub(Point448Object *a, PyObject *arg, int sub) {
    if (check_point(arg) < 0)
        return NULL;
    Point448Object *b = (Point448Object *)arg;
    Point448Object *out = point_new();
    if (out == NULL)
        return NULL;
    if (a->r4 == b->r4) {
        out->r4 = a->r4;
        (sub ? decaf_448_point_sub : decaf_448_point_add)(out->v, a->v, b->v);
    } else {
        decaf_448_point_t x, y;
        as_ratio1(x, a);
        as_ratio1(y, b);
        out->r4 = 0;
        (sub ? decaf_448_point_sub : decaf_448_point_add)(out->v, x, y);
    }
    return (PyObject *)out;
}

static PyObject *point_add(Point448Object *self, PyObject *arg) { return add_or_sub(self, arg, 0); }
static PyObject *point_sub(Point448Object *self, PyObject *arg) { return add_or_sub(self, arg, 1); }

static PyObject *point_neg(Point448Object *self, PyObject *Py_UNUSED(ignored)) {
    Point448Object *out = point_new();
    if (out == NULL)
        return NULL;
    out->r4 = self->r4;
    decaf_448_point_negate(out->v, self->v);
    return (PyObject *)out;
}

static PyObject *point_eq(Point448Object *self, PyObject *arg) {
    if (check_point(arg) < 0)
        return NULL;
    Point448Object *other = (Point448Object *)arg;
    decaf_bool_t same;
    if (self->r4 == other->r4) {
        same = decaf_448_point_eq(self->v, other->v);
    } else {
        decaf_448_point_t x, y;
        as_ratio1(x, self);
        as_ratio1(y, other);
        same = decaf_448_point_eq(x, y);
    }
    return PyBool_FromLong(same != 0);
}

static PyObject *point_is_identity(Point448Object *self, PyObject *Py_UNUSED(ignored)) {
    /* 4v = I iff v = I in a group of prime order. */
    return PyBool_FromLong(decaf_448_point_eq(self->v, decaf_448_point_identity) != 0);
}

static PyObject *base_mul(PyObject *module, PyObject *arg) {
    decaf_448_scalar_t s;
    if (get_scalar(arg, s) < 0)
        return NULL;
    decaf_448_scalar_mul(s, s, quarter);
    Point448Object *out = point_new();
    if (out != NULL) {
        out->r4 = 1;
        Py_BEGIN_ALLOW_THREADS
        decaf_448_precomputed_scalarmul(out->v, decaf_448_precomputed_base, s);
        Py_END_ALLOW_THREADS
    }
    decaf_448_scalar_destroy(s);
    return (PyObject *)out;
}

/* a * G + b * P, variable time: public scalars only (verification). */
static PyObject *base_double_mul_public(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "base_double_mul_public(a, point, b)");
        return NULL;
    }
    decaf_448_scalar_t a, b;
    if (get_scalar(args[0], a) < 0 || check_point(args[1]) < 0 || get_scalar(args[2], b) < 0)
        return NULL;
    Point448Object *p = (Point448Object *)args[1];
    decaf_448_scalar_mul(a, a, quarter);
    fold_ratio(b, p);
    Point448Object *out = point_new();
    if (out != NULL) {
        out->r4 = 1;
        Py_BEGIN_ALLOW_THREADS
        decaf_448_base_double_scalarmul_non_secret(out->v, a, p->v, b);
        Py_END_ALLOW_THREADS
    }
    return (PyObject *)out;
}

/* a * P + b * Q, constant time. */
static PyObject *double_mul(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "double_mul(p, a, q, b)");
        return NULL;
    }
    decaf_448_scalar_t a, b;
    if (check_point(args[0]) < 0 || get_scalar(args[1], a) < 0 || check_point(args[2]) < 0
        || get_scalar(args[3], b) < 0)
        return NULL;
    Point448Object *p = (Point448Object *)args[0], *q = (Point448Object *)args[2];
    fold_ratio(a, p);
    fold_ratio(b, q);
    Point448Object *out = point_new();
    if (out != NULL) {
        out->r4 = 1;
        Py_BEGIN_ALLOW_THREADS
        decaf_448_point_double_scalarmul(out->v, p->v, a, q->v, b);
        Py_END_ALLOW_THREADS
    }
    decaf_448_scalar_destroy(a);
    decaf_448_scalar_destroy(b);
    return (PyObject *)out;
}

static PyObject *make_constant(const decaf_448_point_t v) {
    Point448Object *out = point_new();
    if (out != NULL) {
        out->r4 = 0;
        memcpy(out->v, v, sizeof(decaf_448_point_t));
    }
    return (PyObject *)out;
}

static PyMethodDef point_methods[] = {
    {"decode", (PyCFunction)point_decode, METH_O | METH_CLASS,
     "Point448.decode(enc): the point of a 57-byte RFC 8032 encoding (validated by the caller)."},
    {"encode", (PyCFunction)point_encode, METH_NOARGS, "The 57-byte RFC 8032 encoding."},
    {"mul", (PyCFunction)point_mul, METH_O, "mul(k): k * self (constant time)."},
    {"add", (PyCFunction)point_add, METH_O, "add(other): self + other."},
    {"sub", (PyCFunction)point_sub, METH_O, "sub(other): self - other."},
    {"neg", (PyCFunction)point_neg, METH_NOARGS, "neg(): -self."},
    {"eq", (PyCFunction)point_eq, METH_O, "eq(other): whether both are the same point."},
    {"is_identity", (PyCFunction)point_is_identity, METH_NOARGS, "Whether this is the identity."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Point448Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otr._decaf.Point448",
    .tp_basicsize = sizeof(Point448Object),
    .tp_dealloc = (destructor)point_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A point of the prime-order subgroup of Ed448 (libdecaf).",
    .tp_methods = point_methods,
};

static PyMethodDef module_methods[] = {
    {"base_mul", (PyCFunction)base_mul, METH_O, "base_mul(k): k * G (constant time, precomputed table)."},
    {"base_double_mul_public", (PyCFunction)(void (*)(void))base_double_mul_public, METH_FASTCALL,
     "base_double_mul_public(a, p, b): a * G + b * p, variable time (public scalars only)."},
    {"double_mul", (PyCFunction)(void (*)(void))double_mul, METH_FASTCALL,
     "double_mul(p, a, q, b): a * p + b * q (constant time)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef decaf_module = {
    PyModuleDef_HEAD_INIT, "otr._decaf",
    "Ed448 scalar multiplication through libdecaf (see src/otr/_decaf.c).", -1, module_methods,
};

PyMODINIT_FUNC PyInit__decaf(void) {
    if (PyType_Ready(&Point448Type) < 0)
        return NULL;
    /* quarter = 1/4 mod q: halve one twice. */
    decaf_448_scalar_halve(quarter, decaf_448_scalar_one);
    decaf_448_scalar_halve(quarter, quarter);
    PyObject *m = PyModule_Create(&decaf_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&Point448Type);
    if (PyModule_AddObject(m, "Point448", (PyObject *)&Point448Type) < 0) {
        Py_DECREF(&Point448Type);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *base = make_constant(decaf_448_point_base);
    PyObject *identity = make_constant(decaf_448_point_identity);
    if (base == NULL || identity == NULL || PyModule_AddObject(m, "BASE", base) < 0) {
        Py_XDECREF(base);
        Py_XDECREF(identity);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObject(m, "IDENTITY", identity) < 0) {
        Py_DECREF(identity);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
