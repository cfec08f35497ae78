/*
 * otr._speedups: the optional C accelerator of the per-message path.  Each
 * function has a pure-Python twin, which documents it and which it is tested
 * against byte for byte; it keeps no state (key ids, counters, rotation and
 * every decision about them stay in Python, which passes what it expects).
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
 * v4_seal_wire / v4_open_wire                   (twin in otr.v4.datacrypt)
 *     the same fused with the encoding: plaintext to "?OTR:...." text and
 *     back, for the common case only (the ratchet's fast path).
 *
 * AES, SHA-1, SHAKE-256 and ChaCha20 come from OpenSSL's libcrypto (EVP); nothing here is
 * home-made cryptography (base 64 is).  The GIL is held throughout, so the
 * per-object and module-wide scratch contexts are never used by two threads at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
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

static PyObject *otr_encoded(const unsigned char *bin, size_t len);

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

    result = otr_encoded(bin, total);

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

static const char b64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/* Digit values; 64 marks a character that is not a base-64 digit. */
static unsigned char b64_value[256];
/* The same, shifted into place for the 1st .. 4th digit of a quantum; a
 * character that is not a digit has B64_BAD set. */
#define B64_BAD 0x80000000u
static uint32_t b64_shifted[4][256];
/* The two digits of every 12-bit value: three bytes are two look-ups. */
static unsigned char b64_pair[4096][2];

static void b64_init(void)
{
    memset(b64_value, 64, sizeof b64_value);
    for (int i = 0; i < 64; i++)
        b64_value[(unsigned char)b64_digits[i]] = (unsigned char)i;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 256; c++)
            b64_shifted[k][c] =
                b64_value[c] & 64 ? B64_BAD : (uint32_t)b64_value[c] << (18 - 6 * k);
    for (int i = 0; i < 4096; i++) {
        b64_pair[i][0] = (unsigned char)b64_digits[i >> 6];
        b64_pair[i][1] = (unsigned char)b64_digits[i & 63];
    }
}

/* Padded base 64 (RFC 4648 section 4) of in[0:len] into out (4 * ceil(len / 3)). */
static void b64_encode_into(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        memcpy(out, b64_pair[v >> 12], 2);
        memcpy(out + 2, b64_pair[v & 0xFFF], 2);
        out += 4;
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
        out[0] = (unsigned char)b64_digits[v >> 18];
        out[1] = (unsigned char)b64_digits[(v >> 12) & 63];
        out[2] = i + 1 < len ? (unsigned char)b64_digits[(v >> 6) & 63] : '=';
        out[3] = '=';
    }
}

static PyObject *invalid_base64(void)
{
    PyErr_SetString(PyExc_ValueError, "invalid or non-canonical base 64");
    return NULL;
}

/* Bytes that the canonical base 64 s[0:len] decodes to, or -1 when it is not
 * canonical (length a multiple of 4, '=' only as the last one or two digits). */
static Py_ssize_t b64_decoded_len(const unsigned char *s, Py_ssize_t len)
{
    if (len % 4 != 0)
        return -1;
    Py_ssize_t pad = 0;
    if (len > 0 && s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    return len / 4 * 3 - pad;
}

/* Decode s[0:len] (b64_decoded_len(s, len) >= 0) into out; 0 when a character is
 * not a digit or the unused bits are not zero. */
static int b64_decode_into(const unsigned char *s, Py_ssize_t len, unsigned char *out)
{
    Py_ssize_t pad = len > 0 && s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
    /* Every quantum but the last: four digits, three bytes; a bad character is
     * noted and reported at the end (the input is not secret). */
    Py_ssize_t full = len - (pad ? 4 : 0);
    uint32_t bad = 0;
    for (Py_ssize_t i = 0; i < full; i += 4) {
        uint32_t v = b64_shifted[0][s[i]] | b64_shifted[1][s[i + 1]] |
                     b64_shifted[2][s[i + 2]] | b64_shifted[3][s[i + 3]];
        bad |= v;
        out[0] = (unsigned char)(v >> 16);
        out[1] = (unsigned char)(v >> 8);
        out[2] = (unsigned char)v;
        out += 3;
    }
    if (bad & B64_BAD)
        return 0;
    if (pad) {
        /* "xx==" gives one byte, "xxx=" two; the unused low bits must be 0. */
        const unsigned char *q = s + full;
        unsigned a = b64_value[q[0]], b = b64_value[q[1]];
        unsigned c = pad == 1 ? b64_value[q[2]] : 0;
        if ((a | b | c) & 64)
            return 0;
        unsigned v = a << 18 | b << 12 | c << 6;
        if (pad == 2 ? (v & 0xFFFF) : (v & 0xFF))
            return 0;
        *out++ = (unsigned char)(v >> 16);
        if (pad == 1)
            *out++ = (unsigned char)(v >> 8);
    }
    return 1;
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
    Py_ssize_t n = b64_decoded_len(s, len);
    if (n < 0)
        return invalid_base64();
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (result == NULL)
        return NULL;
    if (!b64_decode_into(s, len, (unsigned char *)PyBytes_AS_STRING(result))) {
        Py_DECREF(result);
        return invalid_base64();
    }
    return result;
}

/* "?OTR:" + base 64 of bin[0:len] + "." as a new str. */
static PyObject *otr_encoded(const unsigned char *bin, size_t len)
{
    size_t digits = 4 * ((len + 2) / 3);
    PyObject *result = PyUnicode_New((Py_ssize_t)(5 + digits + 1), 127);
    if (result == NULL)
        return NULL;
    unsigned char *out = PyUnicode_1BYTE_DATA(result);
    memcpy(out, "?OTR:", 5);
    b64_encode_into(bin, len, out + 5);
    out[5 + digits] = '.';
    return result;
}

/* ---- OTRv4 data messages (twin: otr.v4.datacrypt) ------------------------
 *
 * v4_seal_message(chain_key, head, plaintext) -> (section, authenticator, extra, next)
 * v4_open_message(chain_key, section, ct_start, authenticator)
 *     -> (plaintext, mk_mac, extra, next) | None
 * v4_seal_wire(chain_key, head, flags, message_id, message, reveal) -> (wire, next)
 * v4_open_wire(text, chain_key, expected_head, message_id) -> (text, mk_mac, next) | None
 *
 * With KDF(u, x) = SHAKE-256("OTRv4" || u || x, 64) (otr-v4.md "Calculating
 * Encryption and MAC Keys", ERRATA B.12-B.14): MKenc = KDF(0x15, ck), MKmac =
 * KDF(0x16, MKenc), extra = KDF(0x17, 0xFF || ck), next = KDF(0x14, ck), the
 * ciphertext is ChaCha20(MKenc[0:32], nonce 0, counter 0) of the plaintext,
 * section = head || DATA(ciphertext) and authenticator = KDF(0x18, MKmac ||
 * section).  Opening compares the authenticator in constant time first.
 *
 * The _wire pair is the fused per-message path of otr.v4.ratchet (see
 * otr.v4.datacrypt for the exact rules): sealing patches the flags and message id
 * into the chain's head, writes the plaintext message (NUL -> '?') || 0x00 and
 * returns the whole "?OTR:....", the revealed MAC keys appended; opening decodes
 * such a text, takes it only when its head matches the receiving chain's
 * (expected_head: tags, ratchet id, ECDH and DH keys; flags and pn free), its
 * message id is message_id, its lengths are consistent, the authenticator
 * verifies and the plaintext carries no TLV, and returns the text (UTF-8, errors
 * replaced); anything else is None.  Neither derives the extra symmetric key. */

#define V4_KEY 64
#define V4_CHACHA_KEY 32
#define V4_FLAGS_AT 11
#define V4_RATCHET_ID_AT 16
#define V4_MESSAGE_ID_AT 20
#define V4_KEYS_AT 24
#define V4_MIN_HEAD (V4_KEYS_AT + 57 + 4) /* the fixed fields, a POINT, an empty MPI */
#define V4_MAX_DATA (1 << 24)             /* otr.wire.buffer.MAX_DATA_LEN */
#define ENCODED_MAX (4 * 1024 * 1024)     /* otr.wire.envelope.MAX_ENCODED_LEN */

enum { V4_NEXT, V4_MSG, V4_MAC, V4_EXTRA, V4_AUTH, V4_USAGES };
static EVP_MD_CTX *v4_prepared[V4_USAGES]; /* "OTRv4" || usage (|| 0xFF) absorbed */
static EVP_MD_CTX *v4_work;                /* a copy of one of them per KDF */
static EVP_CIPHER_CTX *v4_chacha;          /* ChaCha20 bound once; key and IV per message */

static int v4_init(void)
{
    static const unsigned char usages[V4_USAGES] = {0x14, 0x15, 0x16, 0x17, 0x18};
    static const unsigned char ff = 0xFF;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    /* Fetched once: a digest or cipher named by EVP_shake256() / EVP_chacha20()
     * would be looked up again by every initialisation. */
    EVP_MD *shake = EVP_MD_fetch(NULL, "SHAKE256", NULL);
    EVP_CIPHER *chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
#else
    const EVP_MD *shake = EVP_shake256();
    const EVP_CIPHER *chacha = EVP_chacha20();
#endif
    int ok = shake != NULL && chacha != NULL && (v4_work = EVP_MD_CTX_new()) != NULL &&
             (v4_chacha = EVP_CIPHER_CTX_new()) != NULL &&
             EVP_EncryptInit_ex(v4_chacha, chacha, NULL, NULL, NULL) == 1;
    for (int i = 0; ok && i < V4_USAGES; i++) {
        v4_prepared[i] = EVP_MD_CTX_new();
        ok = v4_prepared[i] != NULL && EVP_DigestInit_ex(v4_prepared[i], shake, NULL) == 1 &&
             EVP_DigestUpdate(v4_prepared[i], "OTRv4", 5) == 1 &&
             EVP_DigestUpdate(v4_prepared[i], &usages[i], 1) == 1;
    }
    ok = ok && EVP_DigestUpdate(v4_prepared[V4_EXTRA], &ff, 1) == 1;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(shake); /* the contexts keep their own references */
    EVP_CIPHER_free(chacha);
#endif
    return ok;
}

/* out = KDF(usage, a || b, 64); b may be NULL.  A copy of the prepared state
 * (libcrypto 3.0 re-creates the provider state either way; copying skips the
 * re-initialisation and the prefix). */
static int v4_kdf(int usage, const unsigned char *a, size_t alen, const unsigned char *b,
                  size_t blen, unsigned char *out)
{
    return EVP_MD_CTX_copy_ex(v4_work, v4_prepared[usage]) == 1 &&
           EVP_DigestUpdate(v4_work, a, alen) == 1 &&
           (b == NULL || EVP_DigestUpdate(v4_work, b, blen) == 1) &&
           EVP_DigestFinalXOF(v4_work, out, V4_KEY) == 1;
}

#define V4_BLOCK 64
/* len rounded up to whole ChaCha20 blocks. */
#define V4_WHOLE(len) (((len) + V4_BLOCK - 1) / V4_BLOCK * V4_BLOCK)

/* out[0:len] = ChaCha20(MKenc[0:32], nonce 0, counter 0) XOR in[0:len]; out may be
 * in.  The fused functions pass V4_WHOLE(len) where their buffers have the room:
 * libcrypto then makes one pass, where a partial last block costs it a second. */
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
    Py_buffer buf[3]; /* chain key, then the byte arguments */
    int held;         /* how many of buf are acquired */
    struct {
        unsigned char enc[V4_KEY], mac[V4_KEY], extra[V4_KEY], next[V4_KEY];
    } secret; /* wiped in one go */
    unsigned char auth[V4_KEY];
} V4Message;

static void v4_release(V4Message *m)
{
    while (m->held > 0)
        PyBuffer_Release(&m->buf[--m->held]);
    OPENSSL_cleanse(&m->secret, sizeof m->secret);
}

/* Acquire the chain key (args[idx[0]], 64 bytes) and count - 1 more buffers. */
static int v4_acquire(V4Message *m, PyObject *const *args, const int *idx, int count)
{
    m->held = 0;
    for (int i = 0; i < count; i++) {
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

/* MKenc (unless already there), MKmac and the authenticator of section, and the
 * next chain key; the extra symmetric key too when with_extra. */
static int v4_derive(V4Message *m, int with_enc, int with_extra, const unsigned char *section,
                     size_t len)
{
    const unsigned char *ck = m->buf[0].buf;
    return (!with_enc || v4_kdf(V4_MSG, ck, V4_KEY, NULL, 0, m->secret.enc)) &&
           v4_kdf(V4_MAC, m->secret.enc, V4_KEY, NULL, 0, m->secret.mac) &&
           v4_kdf(V4_AUTH, m->secret.mac, V4_KEY, section, len, m->auth) &&
           (!with_extra || v4_kdf(V4_EXTRA, ck, V4_KEY, NULL, 0, m->secret.extra)) &&
           v4_kdf(V4_NEXT, ck, V4_KEY, NULL, 0, m->secret.next);
}

/* (first, second, extra, next), stealing the reference to first. */
static PyObject *v4_result(PyObject *first, const unsigned char *second, const V4Message *m)
{
    return Py_BuildValue("(Ny#y#y#)", first, (const char *)second, (Py_ssize_t)V4_KEY,
                         (const char *)m->secret.extra, (Py_ssize_t)V4_KEY, (const char *)m->secret.next,
                         (Py_ssize_t)V4_KEY);
}

static PyObject *v4_seal_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    static const int idx[3] = {0, 1, 2};
    V4Message m;
    PyObject *section, *result = NULL;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "v4_seal_message(chain_key, head, plaintext)");
        return NULL;
    }
    if (!v4_acquire(&m, args, idx, 3))
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
    if (!v4_kdf(V4_MSG, m.buf[0].buf, V4_KEY, NULL, 0, m.secret.enc) ||
        !v4_chacha20(m.secret.enc, pt->buf, (size_t)pt->len, s + head->len + 4) ||
        !v4_derive(&m, 0, 1, s, (size_t)PyBytes_GET_SIZE(section))) {
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
    static const int idx[3] = {0, 1, 3};
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
    if (!v4_acquire(&m, args, idx, 3))
        goto done;
    const Py_buffer *sec = &m.buf[1], *tag = &m.buf[2];
    if (ct_start < 4 || ct_start > sec->len || sec->len > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "ciphertext offset outside the section");
        goto done;
    }
    if (!v4_derive(&m, 1, 1, sec->buf, (size_t)sec->len)) {
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
    if (!v4_chacha20(m.secret.enc, (const unsigned char *)sec->buf + ct_start,
                     (size_t)(sec->len - ct_start),
                     (unsigned char *)PyBytes_AS_STRING(plaintext))) {
        Py_DECREF(plaintext);
        crypto_error();
        goto done;
    }
    result = v4_result(plaintext, m.secret.mac, &m);
done:
    v4_release(&m);
    return result;
}

/* (first, a[0:64]) or, with b, (first, a[0:64], b[0:64]); steals first. */
static PyObject *v4_tuple(PyObject *first, const unsigned char *a, const unsigned char *b)
{
    PyObject *result = first == NULL ? NULL : PyTuple_New(b == NULL ? 2 : 3);
    if (result == NULL) {
        Py_XDECREF(first);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, first);
    for (int i = 1; i < PyTuple_GET_SIZE(result); i++) {
        PyObject *item = PyBytes_FromStringAndSize((const char *)(i == 1 ? a : b), V4_KEY);
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, i, item);
    }
    return result;
}

/* Messages up to this size are built or decoded on the stack (no allocation). */
#define V4_STACK 4096

static size_t get_int(const unsigned char *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

/* An INT argument (0 .. 2^32 - 1); -1 with an exception set otherwise. */
static long long uint32_arg(PyObject *arg, const char *what)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(arg);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (v > 0xFFFFFFFFULL) {
        PyErr_Format(PyExc_OverflowError, "%s does not fit an INT", what);
        return -1;
    }
    return (long long)v;
}

static PyObject *v4_seal_wire(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    static const int idx[3] = {0, 1, 4};
    V4Message m;
    PyObject *result = NULL;
    unsigned char stack[V4_STACK], *bin = NULL;
    Py_buffer reveal;
    int have_reveal = 0;

    (void)module;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "v4_seal_wire(chain_key, head, flags, message_id, message, reveal)");
        return NULL;
    }
    long long flags = uint32_arg(args[2], "flags");
    if (flags < 0)
        return NULL;
    if (flags > 0xFF) {
        PyErr_SetString(PyExc_ValueError, "flags do not fit a BYTE");
        return NULL;
    }
    long long message_id = uint32_arg(args[3], "message id");
    if (message_id < 0)
        return NULL;
    if (!v4_acquire(&m, args, idx, 3))
        goto done;
    if (PyObject_GetBuffer(args[5], &reveal, PyBUF_SIMPLE) < 0)
        goto done;
    have_reveal = 1;
    const Py_buffer *head = &m.buf[1], *msg = &m.buf[2];
    if (head->len < V4_MESSAGE_ID_AT + 4) {
        PyErr_SetString(PyExc_ValueError, "head too short");
        goto done;
    }
    if (head->len > MAX_BINARY || msg->len > MAX_BINARY || reveal.len > MAX_BINARY ||
        (size_t)head->len + msg->len + reveal.len + 1 + 4 + V4_KEY + 4 > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "message too long");
        goto done;
    }
    size_t plen = (size_t)msg->len + 1, section_len = (size_t)head->len + 4 + plen;
    size_t total = section_len + V4_KEY + 4 + (size_t)reveal.len;
    /* ChaCha20 runs over whole blocks in place: the (at most 63) bytes past the
     * plaintext are zeroed first and overwritten by the authenticator after. */
    size_t whole = V4_WHOLE(plen);
    bin = total <= sizeof stack ? stack : PyMem_Malloc(total);
    if (bin == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(bin, head->buf, head->len);
    bin[V4_FLAGS_AT] = (unsigned char)flags;
    put_int(bin + V4_MESSAGE_ID_AT, (size_t)message_id);
    put_int(bin + head->len, plen);
    /* The plaintext, encrypted in place: message (NUL -> '?') || 0x00 (ERRATA D.2). */
    unsigned char *ct = bin + head->len + 4;
    const unsigned char *src = msg->buf;
    for (size_t i = 0; i < plen - 1; i++)
        ct[i] = src[i] ? src[i] : '?';
    memset(ct + plen - 1, 0, whole - plen + 1);
    if (!v4_kdf(V4_MSG, m.buf[0].buf, V4_KEY, NULL, 0, m.secret.enc) ||
        !v4_chacha20(m.secret.enc, ct, whole, ct) || !v4_derive(&m, 0, 0, bin, section_len)) {
        OPENSSL_cleanse(ct, whole);
        crypto_error();
        goto done;
    }
    memcpy(bin + section_len, m.auth, V4_KEY);
    put_int(bin + section_len + V4_KEY, (size_t)reveal.len);
    if (reveal.len)
        memcpy(bin + section_len + V4_KEY + 4, reveal.buf, reveal.len);
    result = v4_tuple(otr_encoded(bin, total), m.secret.next, NULL);
done:
    if (bin != stack)
        PyMem_Free(bin); /* header, ciphertext, MACs: nothing secret */
    if (have_reveal)
        PyBuffer_Release(&reveal);
    v4_release(&m);
    return result;
}

static PyObject *v4_open_wire(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    static const int idx[2] = {1, 2};
    V4Message m;
    PyObject *text, *result = NULL;
    unsigned char stack[V4_STACK], *bin = NULL, *pt = NULL;
    size_t plen = 0;

    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "v4_open_wire(text, chain_key, expected_head, message_id)");
        return NULL;
    }
    text = args[0];
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "v4_open_wire() text must be str");
        return NULL;
    }
    long long message_id = uint32_arg(args[3], "message id");
    if (message_id < 0)
        return NULL;
    if (!v4_acquire(&m, args, idx, 2))
        goto done;
    const Py_buffer *expect = &m.buf[1];
    size_t hlen = (size_t)expect->len;
    if (hlen < V4_MIN_HEAD || hlen > MAX_BINARY) {
        PyErr_SetString(PyExc_ValueError, "expected head too short");
        goto done;
    }
    result = Py_None; /* from here on, anything unusual is None */
    if (PyUnicode_READY(text) < 0) {
        result = NULL;
        goto done;
    }
    Py_ssize_t tlen = PyUnicode_GET_LENGTH(text);
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    if (!PyUnicode_IS_ASCII(text) || tlen < 6 || tlen - 6 > ENCODED_MAX ||
        memcmp(s, "?OTR:", 5) != 0 || s[tlen - 1] != '.')
        goto done;
    Py_ssize_t n = b64_decoded_len(s + 5, tlen - 6);
    if (n < (Py_ssize_t)(hlen + 4 + V4_KEY + 4))
        goto done;
    /* The plaintext goes after the binary message: one buffer, whole blocks. */
    size_t room = (size_t)n + V4_WHOLE((size_t)n) + 1;
    bin = room <= sizeof stack ? stack : PyMem_Malloc(room);
    if (bin == NULL) {
        result = PyErr_NoMemory();
        goto done;
    }
    if (!b64_decode_into(s + 5, tlen - 6, bin))
        goto done;
    /* The chain's head: version, type, tags; ratchet id; ECDH and DH keys. */
    const unsigned char *e = expect->buf;
    if (memcmp(bin, e, V4_FLAGS_AT) != 0 ||
        memcmp(bin + V4_RATCHET_ID_AT, e + V4_RATCHET_ID_AT, 4) != 0 ||
        get_int(bin + V4_MESSAGE_ID_AT) != (size_t)message_id ||
        memcmp(bin + V4_KEYS_AT, e + V4_KEYS_AT, hlen - V4_KEYS_AT) != 0)
        goto done;
    size_t ct_len = get_int(bin + hlen);
    if (ct_len > V4_MAX_DATA)
        goto done;
    size_t section_len = hlen + 4 + ct_len;
    if (section_len + V4_KEY + 4 > (size_t)n)
        goto done;
    size_t reveal_len = get_int(bin + section_len + V4_KEY);
    if (section_len + V4_KEY + 4 + reveal_len != (size_t)n || reveal_len % V4_KEY != 0)
        goto done;
    /* otr4j: the first message of a later ratchet reveals a MAC key. */
    if (message_id == 0 && get_int(bin + V4_RATCHET_ID_AT) != 0 && reveal_len == 0)
        goto done;
    if (!v4_derive(&m, 1, 0, bin, section_len)) {
        result = crypto_error();
        goto done;
    }
    if (CRYPTO_memcmp(m.auth, bin + section_len, V4_KEY) != 0)
        goto done;
    /* Whole blocks: the authenticator follows the ciphertext in bin. */
    plen = ct_len;
    pt = bin + n;
    if (!v4_chacha20(m.secret.enc, bin + hlen + 4, V4_WHOLE(plen), pt)) {
        result = crypto_error();
        goto done;
    }
    /* message || 0x00 || TLVs: only a message without TLVs is taken here. */
    const unsigned char *nul = memchr(pt, 0, plen);
    size_t text_len = nul ? (size_t)(nul - pt) : plen;
    if (nul != NULL && text_len != plen - 1)
        goto done;
    PyObject *message = PyUnicode_DecodeUTF8((const char *)pt, (Py_ssize_t)text_len, "replace");
    if (message == NULL) {
        result = NULL;
        goto done;
    }
    result = v4_tuple(message, m.secret.mac, m.secret.next);
done:
    if (result == Py_None)
        Py_INCREF(result);
    if (pt != NULL)
        OPENSSL_cleanse(pt, V4_WHOLE(plen));
    if (bin != stack)
        PyMem_Free(bin);
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
    {"v4_seal_wire", (PyCFunction)(void (*)(void))v4_seal_wire, METH_FASTCALL,
     "v4_seal_wire(chain_key, head, flags, message_id, message, reveal) -> (wire, next)."},
    {"v4_open_wire", (PyCFunction)(void (*)(void))v4_open_wire, METH_FASTCALL,
     "v4_open_wire(text, chain_key, expected_head, message_id) -> (text, mk_mac, next) | None."},
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
