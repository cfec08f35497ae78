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
 * v4_seal_message / v4_open_message             (twin in otr.v4.datacrypt)
 *     the per-message cryptography of OTRv4 data messages (SHAKE-256 KDFs,
 *     ChaCha20, the authenticator); see the block comment further down.
 *
 * AES, SHA-1, SHAKE-256 and ChaCha20 come from OpenSSL's libcrypto (EVP); nothing here is
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

/* ---- OTRv4 data messages (twin: otr.v4.datacrypt) ------------------------
 *
 * v4_seal_message(chain_key, head, plaintext) -> (section, authenticator, extra, next)
 * v4_open_message(chain_key, section, ct_start, authenticator)
 *     -> (plaintext, mk_mac, extra, next) | None
 *
 * With KDF(u, x) = SHAKE-256("OTRv4" || u || x, 64) (otr-v4.md "Calculating
 * Encryption and MAC Keys", ERRATA B.12-B.14): MKenc = KDF(0x15, ck), MKmac =
 * KDF(0x16, MKenc), extra = KDF(0x17, 0xFF || ck), next = KDF(0x14, ck), the
 * ciphertext is ChaCha20(MKenc[0:32], nonce 0, counter 0) of the plaintext,
 * section = head || DATA(ciphertext) and authenticator = KDF(0x18, MKmac ||
 * section).  Opening compares the authenticator in constant time first. */

#define V4_KEY 64
#define V4_CHACHA_KEY 32

enum { V4_MSG, V4_MAC, V4_EXTRA, V4_NEXT, V4_AUTH, V4_USAGES };
static EVP_MD_CTX *v4_prepared[V4_USAGES]; /* "OTRv4" || usage (|| 0xFF) absorbed */
static EVP_MD_CTX *v4_work;
static EVP_CIPHER_CTX *v4_chacha;

static int v4_init(void)
{
    static const unsigned char usages[V4_USAGES] = {0x15, 0x16, 0x17, 0x14, 0x18};
    static const unsigned char ff = 0xFF;
    v4_work = EVP_MD_CTX_new();
    v4_chacha = EVP_CIPHER_CTX_new();
    /* Bind the cipher once; each message then only sets key and IV. */
    if (v4_work == NULL || v4_chacha == NULL ||
        EVP_EncryptInit_ex(v4_chacha, EVP_chacha20(), NULL, NULL, NULL) != 1)
        return 0;
    for (int i = 0; i < V4_USAGES; i++) {
        v4_prepared[i] = EVP_MD_CTX_new();
        if (v4_prepared[i] == NULL ||
            EVP_DigestInit_ex(v4_prepared[i], EVP_shake256(), NULL) != 1 ||
            EVP_DigestUpdate(v4_prepared[i], "OTRv4", 5) != 1 ||
            EVP_DigestUpdate(v4_prepared[i], &usages[i], 1) != 1)
            return 0;
    }
    return EVP_DigestUpdate(v4_prepared[V4_EXTRA], &ff, 1) == 1;
}

/* out = KDF(usage, a || b, 64); b may be NULL. */
static int v4_kdf(int usage, const unsigned char *a, size_t alen, const unsigned char *b,
                  size_t blen, unsigned char *out)
{
    return EVP_MD_CTX_copy_ex(v4_work, v4_prepared[usage]) == 1 &&
           EVP_DigestUpdate(v4_work, a, alen) == 1 &&
           (b == NULL || EVP_DigestUpdate(v4_work, b, blen) == 1) &&
           EVP_DigestFinalXOF(v4_work, out, V4_KEY) == 1;
}

static int v4_chacha20(const unsigned char *mk_enc, const unsigned char *in, size_t len,
                       unsigned char *out)
{
    static const unsigned char iv[16] = {0}; /* counter 0 (LE) || nonce 0 */
    int outl = 0;
    if (EVP_EncryptInit_ex(v4_chacha, NULL, NULL, mk_enc, iv) != 1)
        return 0;
    return len == 0 || (EVP_EncryptUpdate(v4_chacha, out, &outl, in, (int)len) == 1 &&
                        (size_t)outl == len);
}

/* The keys of one message; wiped by v4_release whatever happened. */
typedef struct {
    Py_buffer buf[3]; /* chain key, then the two byte arguments */
    int held;         /* how many of buf are acquired */
    unsigned char enc[V4_KEY], mac[V4_KEY], extra[V4_KEY], next[V4_KEY], auth[V4_KEY];
} V4Message;

static void v4_release(V4Message *m)
{
    while (m->held > 0)
        PyBuffer_Release(&m->buf[--m->held]);
    OPENSSL_cleanse(m->enc, sizeof m->enc);
    OPENSSL_cleanse(m->mac, sizeof m->mac);
    OPENSSL_cleanse(m->extra, sizeof m->extra);
    OPENSSL_cleanse(m->next, sizeof m->next);
}

/* Acquire the chain key (args[0], 64 bytes) and two more buffers; 0 on error. */
static int v4_acquire(V4Message *m, PyObject *const *args, int second, int third)
{
    const int idx[3] = {0, second, third};
    m->held = 0;
    for (int i = 0; i < 3; i++) {
        if (PyObject_GetBuffer(args[idx[i]], &m->buf[i], PyBUF_SIMPLE) < 0)
            return 0;
        m->held++;
    }
    if (m->buf[0].len != V4_KEY) {
        PyErr_SetString(PyExc_ValueError, "keys are 64 bytes");
        return 0;
    }
    return 1;
}

/* MKenc, MKmac and the authenticator of section; extra and next from the chain key. */
static int v4_derive(V4Message *m, int with_enc, const unsigned char *section, size_t len)
{
    const unsigned char *ck = m->buf[0].buf;
    return (!with_enc || v4_kdf(V4_MSG, ck, V4_KEY, NULL, 0, m->enc)) &&
           v4_kdf(V4_MAC, m->enc, V4_KEY, NULL, 0, m->mac) &&
           v4_kdf(V4_AUTH, m->mac, V4_KEY, section, len, m->auth) &&
           v4_kdf(V4_EXTRA, ck, V4_KEY, NULL, 0, m->extra) &&
           v4_kdf(V4_NEXT, ck, V4_KEY, NULL, 0, m->next);
}

/* (first, second, extra, next), stealing the reference to first. */
static PyObject *v4_result(PyObject *first, const unsigned char *second, const V4Message *m)
{
    return Py_BuildValue("(Ny#y#y#)", first, (const char *)second, (Py_ssize_t)V4_KEY,
                         (const char *)m->extra, (Py_ssize_t)V4_KEY, (const char *)m->next,
                         (Py_ssize_t)V4_KEY);
}

static PyObject *v4_seal_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    V4Message m;
    PyObject *section, *result = NULL;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "v4_seal_message(chain_key, head, plaintext)");
        return NULL;
    }
    if (!v4_acquire(&m, args, 1, 2))
        goto done;
    const Py_buffer *head = &m.buf[1], *pt = &m.buf[2];
    if (head->len > MAX_BINARY || pt->len > MAX_BINARY || head->len + pt->len + 4 > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "message too long");
        goto done;
    }
    section = PyBytes_FromStringAndSize(NULL, head->len + 4 + pt->len);
    if (section == NULL)
        goto done;
    unsigned char *s = (unsigned char *)PyBytes_AS_STRING(section);
    memcpy(s, head->buf, head->len);
    put_int(s + head->len, (size_t)pt->len);
    if (!v4_kdf(V4_MSG, m.buf[0].buf, V4_KEY, NULL, 0, m.enc) ||
        !v4_chacha20(m.enc, pt->buf, (size_t)pt->len, s + head->len + 4) ||
        !v4_derive(&m, 0, s, (size_t)PyBytes_GET_SIZE(section))) {
        Py_DECREF(section);
        crypto_error();
        goto done;
    }
    result = v4_result(section, m.auth, &m);
done:
    v4_release(&m);
    return result;
}

static PyObject *v4_open_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    V4Message m;
    PyObject *plaintext, *result = NULL;
    Py_ssize_t ct_start;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "v4_open_message(chain_key, section, ct_start, authenticator)");
        return NULL;
    }
    ct_start = PyNumber_AsSsize_t(args[2], PyExc_OverflowError);
    if (ct_start == -1 && PyErr_Occurred())
        return NULL;
    if (!v4_acquire(&m, args, 1, 3))
        goto done;
    const Py_buffer *sec = &m.buf[1], *tag = &m.buf[2];
    if (ct_start < 4 || ct_start > sec->len || sec->len > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "ciphertext offset outside the section");
        goto done;
    }
    if (!v4_derive(&m, 1, sec->buf, (size_t)sec->len)) {
        crypto_error();
        goto done;
    }
    if (tag->len != V4_KEY || CRYPTO_memcmp(m.auth, tag->buf, V4_KEY) != 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    plaintext = PyBytes_FromStringAndSize(NULL, sec->len - ct_start);
    if (plaintext == NULL)
        goto done;
    if (!v4_chacha20(m.enc, (const unsigned char *)sec->buf + ct_start,
                     (size_t)(sec->len - ct_start),
                     (unsigned char *)PyBytes_AS_STRING(plaintext))) {
        Py_DECREF(plaintext);
        crypto_error();
        goto done;
    }
    result = v4_result(plaintext, m.mac, &m);
done:
    v4_release(&m);
    return result;
}

static PyMethodDef module_methods[] = {
    {"b64decode", b64decode, METH_O,
     "b64decode(text) -> bytes: canonical padded base 64, else ValueError."},
    {"v4_seal_message", (PyCFunction)(void (*)(void))v4_seal_message, METH_FASTCALL,
     "v4_seal_message(chain_key, head, plaintext) -> (section, authenticator, extra, next)."},
    {"v4_open_message", (PyCFunction)(void (*)(void))v4_open_message, METH_FASTCALL,
     "v4_open_message(chain_key, section, ct_start, authenticator) -> tuple | None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "otr._speedups",
    .m_doc = "C accelerator of otr's per-message path (see otr.v3.datacrypt, otr.v4.datacrypt, "
             "otr.wire.envelope).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *m;
    b64_init();
    if (!v4_init()) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL lacks SHAKE-256 or ChaCha20");
        return NULL;
    }
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
