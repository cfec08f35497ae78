/*
 * otr._speedups: the optional C accelerator of the per-message path.  Each
 * function has a pure-Python twin, which documents it and which it is tested
 * against byte for byte; it owns no protocol logic (key ids, counters,
 * rotation, parsing and state stay in Python).
 *
 * b64decode(text) -> bytes                      (twin in otr.wire.envelope)
 *     Canonical padded base 64 (RFC 4648 section 4), as OTR's "?OTR:...."
 *     messages carry it: length a multiple of 4, only the 64 digits, '='
 *     only as the last one or two characters, zero unused bits; anything
 *     else is a ValueError.
 *
 * DirectionKeys(aes_key, mac_key)               (twin in otr.v3.datacrypt)
 *     for one direction of one key pair (spec "Computing AES keys, MAC keys"):
 *
 *   seal(head, ctr, plaintext, reveal) -> str
 *       "?OTR:" + base64(head || ctr || DATA(AES-128-CTR(plaintext))
 *                        || HMAC-SHA1(head .. encrypted) || DATA(reveal)) + "."
 *   open(binary, enc_start, auth_end) -> bytes | None
 *       checks HMAC-SHA1(binary[:auth_end]) against binary[auth_end:auth_end+20]
 *       in constant time, then decrypts binary[enc_start:auth_end] with the
 *       counter binary[enc_start-12:enc_start-4] (spec "Data Message").
 *
 * AES and SHA-1 come from OpenSSL's libcrypto (EVP); nothing here is
 * home-made cryptography.  The GIL is held throughout, so the per-object
 * scratch contexts are never used by two threads at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define AES_KEY_LEN 16
#define CTR_LEN 8
#define MAC_LEN 20
#define SHA1_BLOCK 64
/* Largest binary message handled (EVP lengths are ints; base 64 grows 4/3). */
#define MAX_BINARY (1 << 29)

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *aes;  /* AES-128-CTR, key set once, IV set per message */
    EVP_MD_CTX *inner;    /* SHA-1 state after (key ^ ipad) */
    EVP_MD_CTX *outer;    /* SHA-1 state after (key ^ opad) */
    EVP_MD_CTX *work;     /* scratch copy */
    int initialised;      /* set once __init__ has fully succeeded */
} DirectionKeys;

static void keys_dealloc(DirectionKeys *self)
{
    EVP_CIPHER_CTX_free(self->aes);
    EVP_MD_CTX_free(self->inner);
    EVP_MD_CTX_free(self->outer);
    EVP_MD_CTX_free(self->work);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *crypto_error(void)
{
    PyErr_SetString(PyExc_RuntimeError, "libcrypto operation failed");
    return NULL;
}

/* ctx = SHA-1 state after absorbing (key zero-padded to the block) ^ pad. */
static int keyed_sha1(EVP_MD_CTX *ctx, const Py_buffer *key, unsigned char pad)
{
    unsigned char block[SHA1_BLOCK];
    int ok;
    memset(block, pad, sizeof block);
    for (Py_ssize_t i = 0; i < key->len; i++)
        block[i] ^= ((const unsigned char *)key->buf)[i];
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, block, sizeof block) == 1;
    OPENSSL_cleanse(block, sizeof block);
    return ok;
}

static int keys_init(DirectionKeys *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"aes_key", "mac_key", NULL};
    Py_buffer aes_key, mac_key;
    int ok = 0;

    if (self->aes != NULL) { /* contexts exist: __init__ may not run again */
        PyErr_SetString(PyExc_TypeError, "DirectionKeys is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*y*", kwlist, &aes_key, &mac_key))
        return -1;
    if (aes_key.len != AES_KEY_LEN) {
        PyErr_SetString(PyExc_ValueError, "AES-128 key must be 16 bytes");
        goto done;
    }
    if (mac_key.len > SHA1_BLOCK) {
        PyErr_SetString(PyExc_ValueError, "MAC key longer than the SHA-1 block");
        goto done;
    }
    self->aes = EVP_CIPHER_CTX_new();
    self->inner = EVP_MD_CTX_new();
    self->outer = EVP_MD_CTX_new();
    self->work = EVP_MD_CTX_new();
    if (!self->aes || !self->inner || !self->outer || !self->work) {
        PyErr_NoMemory();
        goto done;
    }
    if (EVP_EncryptInit_ex(self->aes, EVP_aes_128_ctr(), NULL, aes_key.buf, NULL) != 1)
        goto crypto_fail;
    /* RFC 2104: the two keyed hash states, computed once. */
    if (!keyed_sha1(self->inner, &mac_key, 0x36) || !keyed_sha1(self->outer, &mac_key, 0x5c))
        goto crypto_fail;
    ok = self->initialised = 1;
    goto done;
crypto_fail:
    crypto_error();
done:
    PyBuffer_Release(&aes_key);
    PyBuffer_Release(&mac_key);
    return ok ? 0 : -1;
}

static int ready(DirectionKeys *self)
{
    if (!self->initialised) {
        PyErr_SetString(PyExc_TypeError, "DirectionKeys is not initialised");
        return 0;
    }
    return 1;
}

/* HMAC-SHA1 of data[0:len] into mac (MAC_LEN bytes). */
static int hmac_sha1(DirectionKeys *self, const unsigned char *data, size_t len,
                     unsigned char *mac)
{
    unsigned char ih[MAC_LEN];
    int ok = EVP_MD_CTX_copy_ex(self->work, self->inner) == 1 &&
             EVP_DigestUpdate(self->work, data, len) == 1 &&
             EVP_DigestFinal_ex(self->work, ih, NULL) == 1 &&
             EVP_MD_CTX_copy_ex(self->work, self->outer) == 1 &&
             EVP_DigestUpdate(self->work, ih, sizeof ih) == 1 &&
             EVP_DigestFinal_ex(self->work, mac, NULL) == 1;
    return ok;
}

/* AES-128-CTR of in[0:len] into out, initial counter block ctr || 0^64. */
static int aes_ctr(DirectionKeys *self, const unsigned char *ctr, const unsigned char *in,
                   int len, unsigned char *out)
{
    unsigned char iv[16];
    int outl = 0;
    memcpy(iv, ctr, CTR_LEN);
    memset(iv + CTR_LEN, 0, 16 - CTR_LEN);
    if (EVP_EncryptInit_ex(self->aes, NULL, NULL, NULL, iv) != 1)
        return 0;
    if (len == 0)
        return 1;
    return EVP_EncryptUpdate(self->aes, out, &outl, in, len) == 1 && outl == len;
}

static void put_int(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static PyObject *keys_seal(DirectionKeys *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer head, ctr, pt, reveal;
    PyObject *result = NULL;
    unsigned char *bin = NULL;
    size_t total, auth_len, pos;

    if (!ready(self))
        return NULL;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "seal(head, ctr, plaintext, reveal)");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &head, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &ctr, PyBUF_SIMPLE) < 0)
        goto release_head;
    if (PyObject_GetBuffer(args[2], &pt, PyBUF_SIMPLE) < 0)
        goto release_ctr;
    if (PyObject_GetBuffer(args[3], &reveal, PyBUF_SIMPLE) < 0)
        goto release_pt;

    if (ctr.len != CTR_LEN) {
        PyErr_SetString(PyExc_ValueError, "counter must be 8 bytes");
        goto release_all;
    }
    if (head.len > MAX_BINARY || pt.len > MAX_BINARY || reveal.len > MAX_BINARY ||
        (size_t)head.len + pt.len + reveal.len + CTR_LEN + 4 + MAC_LEN + 4 > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "message too long");
        goto release_all;
    }
    auth_len = (size_t)head.len + CTR_LEN + 4 + pt.len;
    total = auth_len + MAC_LEN + 4 + reveal.len;
    bin = PyMem_Malloc(total);
    if (bin == NULL) {
        PyErr_NoMemory();
        goto release_all;
    }
    memcpy(bin, head.buf, head.len);
    pos = head.len;
    memcpy(bin + pos, ctr.buf, CTR_LEN);
    pos += CTR_LEN;
    put_int(bin + pos, pt.len);
    pos += 4;
    if (!aes_ctr(self, ctr.buf, pt.buf, (int)pt.len, bin + pos)) {
        crypto_error();
        goto release_all;
    }
    pos += pt.len;
    if (!hmac_sha1(self, bin, auth_len, bin + pos)) {
        crypto_error();
        goto release_all;
    }
    pos += MAC_LEN;
    put_int(bin + pos, reveal.len);
    pos += 4;
    if (reveal.len)
        memcpy(bin + pos, reveal.buf, reveal.len);

    {
        /* "?OTR:" + base 64 + "."; EVP_EncodeBlock writes a NUL after the
         * digits, which lands on the '.' slot and is then overwritten. */
        size_t digits = 4 * ((total + 2) / 3);
        result = PyUnicode_New((Py_ssize_t)(5 + digits + 1), 127);
        if (result == NULL)
            goto release_all;
        unsigned char *out = PyUnicode_1BYTE_DATA(result);
        memcpy(out, "?OTR:", 5);
        if ((size_t)EVP_EncodeBlock(out + 5, bin, (int)total) != digits) {
            Py_CLEAR(result);
            crypto_error();
            goto release_all;
        }
        out[5 + digits] = '.';
    }

release_all:
    PyMem_Free(bin); /* header and ciphertext only: nothing secret */
    PyBuffer_Release(&reveal);
release_pt:
    PyBuffer_Release(&pt);
release_ctr:
    PyBuffer_Release(&ctr);
release_head:
    PyBuffer_Release(&head);
    return result;
}

static PyObject *keys_open(DirectionKeys *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer bin;
    Py_ssize_t enc_start, auth_end;
    PyObject *result = NULL;
    unsigned char mac[MAC_LEN];

    if (!ready(self))
        return NULL;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "open(binary, enc_start, auth_end)");
        return NULL;
    }
    enc_start = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (enc_start == -1 && PyErr_Occurred())
        return NULL;
    auth_end = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (auth_end == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &bin, PyBUF_SIMPLE) < 0)
        return NULL;
    /* The counter and the length of the encrypted part precede enc_start; the
     * MAC follows auth_end. */
    if (enc_start < CTR_LEN + 4 || auth_end < enc_start || bin.len > MAX_BINARY ||
        auth_end > bin.len - MAC_LEN) {
        PyErr_SetString(PyExc_ValueError, "offsets outside the message");
        goto release;
    }
    const unsigned char *p = bin.buf;
    if (!hmac_sha1(self, p, (size_t)auth_end, mac)) {
        crypto_error();
        goto release;
    }
    if (CRYPTO_memcmp(mac, p + auth_end, MAC_LEN) != 0) {
        result = Py_NewRef(Py_None);
        goto release;
    }
    result = PyBytes_FromStringAndSize(NULL, auth_end - enc_start);
    if (result == NULL)
        goto release;
    if (!aes_ctr(self, p + enc_start - CTR_LEN - 4, p + enc_start, (int)(auth_end - enc_start),
                 (unsigned char *)PyBytes_AS_STRING(result))) {
        Py_CLEAR(result);
        crypto_error();
    }
release:
    PyBuffer_Release(&bin);
    return result;
}

static PyMethodDef keys_methods[] = {
    {"seal", (PyCFunction)(void (*)(void))keys_seal, METH_FASTCALL,
     "seal(head, ctr, plaintext, reveal) -> str: the encoded Data Message."},
    {"open", (PyCFunction)(void (*)(void))keys_open, METH_FASTCALL,
     "open(binary, enc_start, auth_end) -> bytes | None: the plaintext, or None "
     "when the MAC does not verify."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DirectionKeysType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otr._speedups.DirectionKeys",
    .tp_doc = "AES-128-CTR and HMAC-SHA1 keys of one direction of an OTRv3 key pair.",
    .tp_basicsize = sizeof(DirectionKeys),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)keys_init,
    .tp_dealloc = (destructor)keys_dealloc,
    .tp_methods = keys_methods,
};

/* ---- canonical base 64 ------------------------------------------------ */

/* Digit values; 64 marks a character that is not a base-64 digit. */
static unsigned char b64_value[256];

static void b64_init(void)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_value, 64, sizeof b64_value);
    for (int i = 0; i < 64; i++)
        b64_value[(unsigned char)digits[i]] = (unsigned char)i;
}

static PyObject *invalid_base64(void)
{
    PyErr_SetString(PyExc_ValueError, "invalid or non-canonical base 64");
    return NULL;
}

static PyObject *b64decode(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "b64decode() argument must be str");
        return NULL;
    }
    if (PyUnicode_READY(arg) < 0)
        return NULL;
    if (!PyUnicode_IS_ASCII(arg))
        return invalid_base64();
    const unsigned char *s = PyUnicode_1BYTE_DATA(arg);
    Py_ssize_t len = PyUnicode_GET_LENGTH(arg);
    if (len % 4 != 0)
        return invalid_base64();
    Py_ssize_t pad = 0;
    if (len > 0 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    PyObject *result = PyBytes_FromStringAndSize(NULL, len / 4 * 3 - pad);
    if (result == NULL)
        return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    /* Every quantum but the last: four digits, three bytes. */
    Py_ssize_t full = len - (pad ? 4 : 0);
    for (Py_ssize_t i = 0; i < full; i += 4) {
        unsigned a = b64_value[s[i]], b = b64_value[s[i + 1]];
        unsigned c = b64_value[s[i + 2]], d = b64_value[s[i + 3]];
        if ((a | b | c | d) & 64)
            goto bad;
        unsigned v = a << 18 | b << 12 | c << 6 | d;
        *out++ = (unsigned char)(v >> 16);
        *out++ = (unsigned char)(v >> 8);
        *out++ = (unsigned char)v;
    }
    if (pad) {
        /* "xx==" gives one byte, "xxx=" two; the unused low bits must be 0. */
        const unsigned char *q = s + full;
        unsigned a = b64_value[q[0]], b = b64_value[q[1]];
        unsigned c = pad == 1 ? b64_value[q[2]] : 0;
        if ((a | b | c) & 64)
            goto bad;
        unsigned v = a << 18 | b << 12 | c << 6;
        if (pad == 2 ? (v & 0xFFFF) : (v & 0xFF))
            goto bad;
        *out++ = (unsigned char)(v >> 16);
        if (pad == 1)
            *out++ = (unsigned char)(v >> 8);
    }
    return result;
bad:
    Py_DECREF(result);
    return invalid_base64();
}

static PyMethodDef module_methods[] = {
    {"b64decode", b64decode, METH_O,
     "b64decode(text) -> bytes: canonical padded base 64, else ValueError."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "otr._speedups",
    .m_doc = "C accelerator of otr's per-message path (see otr.v3.datacrypt, otr.wire.envelope).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *m;
    b64_init();
    if (PyType_Ready(&DirectionKeysType) < 0)
        return NULL;
    m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "DirectionKeys", (PyObject *)&DirectionKeysType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
