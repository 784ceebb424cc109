/*
 * AEAD sealing and opening of TLS 1.3 records (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) straight
 * between direct buffers, on the system's libcrypto (OpenSSL 3), for
 * org.rpctlsservd.records.NativeGcm. Hand-written because no Java library served here seals from and
 * into direct memory: the JCE providers take arrays, so NIO copies every byte into and out of them
 * (measured in docs/measurements.md). It does one thing: one record, with its nonce and header given,
 * its bounds checked against the buffers' capacities.
 */
#include <jni.h>
#include <stdint.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define NONCE 12
#define HEADER 5
#define TAG 16

/*
 * ChaCha20-Poly1305 as libcrypto's providers give it, fetched by name (not linked by symbol) so that a
 * libcrypto without it (a FIPS-only one) still loads the library for AES-GCM; NULL then. Kept for the
 * process's life.
 */
static EVP_CIPHER *chacha20_poly1305;

/* No exit-time clean-up of libcrypto: a loop thread may still seal while the JVM exits. */
JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void) vm;
    (void) reserved;
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) != 1) {
        return JNI_ERR;
    }
    chacha20_poly1305 = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    return JNI_VERSION_1_8;
}

/* The libcrypto in use, for the daemon's start-up line. */
JNIEXPORT jstring JNICALL Java_org_rpctlsservd_records_NativeGcm_version(JNIEnv *env, jclass cls) {
    (void) cls;
    return (*env)->NewStringUTF(env, OpenSSL_version(OPENSSL_VERSION));
}

/*
 * A context keyed with key for sealing (encrypt) or opening, or 0: ChaCha20-Poly1305 (chacha, a
 * 32-byte key) or AES-GCM (a 16- or 32-byte key).
 */
JNIEXPORT jlong JNICALL Java_org_rpctlsservd_records_NativeGcm_create(JNIEnv *env, jclass cls, jbyteArray key, jboolean encrypt,
        jboolean chacha) {
    (void) cls;
    jsize n = (*env)->GetArrayLength(env, key);
    unsigned char k[32];
    if (chacha ? n != 32 : n != 16 && n != 32) {
        return 0;
    }
    const EVP_CIPHER *aead = chacha ? chacha20_poly1305 : n == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    (*env)->GetByteArrayRegion(env, key, 0, n, (jbyte *) k);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int enc = encrypt ? 1 : 0;
    if (ctx != NULL && (aead == NULL || EVP_CipherInit_ex(ctx, aead, NULL, NULL, NULL, enc) != 1
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, NONCE, NULL) != 1
            || EVP_CipherInit_ex(ctx, NULL, NULL, k, NULL, enc) != 1)) {
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    OPENSSL_cleanse(k, sizeof k);
    return (jlong) (intptr_t) ctx;
}

/* Frees a context (its key schedule is cleansed by libcrypto). */
JNIEXPORT void JNICALL Java_org_rpctlsservd_records_NativeGcm_free(JNIEnv *env, jclass cls, jlong ctx) {
    (void) env;
    (void) cls;
    EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *) (intptr_t) ctx);
}

/*
 * Seals the n bytes of src at srcOff, then the inner content type, as one TLS 1.3 record's
 * ciphertext and tag at dst's dstOff, under nonce, with the record's header (the 5 bytes of dst
 * before dstOff, which the caller wrote) as additional data. src and dst are direct buffers, the
 * record's data either apart or exactly in place (sealInPlace).
 * Returns the bytes written (n + 1 + 16), or -1 (bounds, buffers or libcrypto refused).
 */
JNIEXPORT jint JNICALL Java_org_rpctlsservd_records_NativeGcm_seal(JNIEnv *env, jclass cls, jlong handle, jbyteArray nonce,
        jobject src, jint srcOff, jint n, jint type, jobject dst, jint dstOff) {
    (void) cls;
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *) (intptr_t) handle;
    unsigned char *in = (*env)->GetDirectBufferAddress(env, src);
    unsigned char *out = (*env)->GetDirectBufferAddress(env, dst);
    jlong inCap = (*env)->GetDirectBufferCapacity(env, src);
    jlong outCap = (*env)->GetDirectBufferCapacity(env, dst);
    unsigned char iv[NONCE], t = (unsigned char) type;
    int len, l;
    if (ctx == NULL || in == NULL || out == NULL || n < 0 || n > (1 << 14) || srcOff < 0 || dstOff < HEADER
            || (*env)->IsSameObject(env, nonce, NULL) || (*env)->GetArrayLength(env, nonce) != NONCE) {
        return -1;
    }
    len = n + 1 + TAG;
    if ((jlong) srcOff + n > inCap || (jlong) dstOff + len > outCap) {
        return -1;
    }
    (*env)->GetByteArrayRegion(env, nonce, 0, NONCE, (jbyte *) iv);
    in += srcOff;
    out += dstOff;
    uintptr_t i = (uintptr_t) in, o = (uintptr_t) out;
    if (i != o && i < o + (uintptr_t) len && o < i + (uintptr_t) n) {
        return -1; /* overlapping other than exactly in place, which both AEADs allow: not what the caller promised */
    }
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1
            || EVP_EncryptUpdate(ctx, NULL, &l, out - HEADER, HEADER) != 1
            || EVP_EncryptUpdate(ctx, out, &l, in, n) != 1 || l != n
            || EVP_EncryptUpdate(ctx, out + n, &l, &t, 1) != 1 || l != 1
            || EVP_EncryptFinal_ex(ctx, out + n + 1, &l) != 1 || l != 0
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, out + n + 1) != 1) {
        return -1;
    }
    return len;
}

/*
 * Opens, in place, the TLS 1.3 record whose header is the 5 bytes of buf before off and whose
 * ciphertext and tag are the len bytes at off, under nonce, with that header as additional data.
 * Returns the plaintext's length (len - 16), -2 when the tag does not match (nothing of the record
 * is to be used), or -1 (bounds, buffers or libcrypto refused).
 */
JNIEXPORT jint JNICALL Java_org_rpctlsservd_records_NativeGcm_open(JNIEnv *env, jclass cls, jlong handle, jbyteArray nonce,
        jobject buf, jint off, jint len) {
    (void) cls;
    EVP_CIPHER_CTX *ctx = (EVP_CIPHER_CTX *) (intptr_t) handle;
    unsigned char *b = (*env)->GetDirectBufferAddress(env, buf);
    jlong cap = (*env)->GetDirectBufferCapacity(env, buf);
    unsigned char iv[NONCE];
    int n, l;
    if (ctx == NULL || b == NULL || (*env)->IsSameObject(env, nonce, NULL) || (*env)->GetArrayLength(env, nonce) != NONCE
            || off < HEADER || len < TAG || len > (1 << 14) + 256 || (jlong) off + len > cap) {
        return -1;
    }
    (*env)->GetByteArrayRegion(env, nonce, 0, NONCE, (jbyte *) iv);
    n = len - TAG;
    b += off;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1
            || EVP_DecryptUpdate(ctx, NULL, &l, b - HEADER, HEADER) != 1) {
        return -1;
    }
    /* the tag is set before the final, always: ChaCha20-Poly1305's final succeeds without one */
    if (EVP_DecryptUpdate(ctx, b, &l, b, n) != 1 || l != n
            || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, b + n) != 1) {
        OPENSSL_cleanse(b, (size_t) n); /* decrypted in place but not authenticated: not left readable */
        return -1;
    }
    if (EVP_DecryptFinal_ex(ctx, b + n, &l) != 1) {
        OPENSSL_cleanse(b, (size_t) n); /* what failed its tag is not left readable as plaintext */
        return -2;
    }
    return n;
}
