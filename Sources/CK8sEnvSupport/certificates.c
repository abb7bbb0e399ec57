#include "CK8sEnvSupport.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *bio_to_string(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    if (length <= 0) return NULL;
    char *copy = malloc((size_t)length + 1);
    if (!copy) return NULL;
    memcpy(copy, data, (size_t)length);
    copy[length] = 0;
    return copy;
}

static char *last_error(const char *what) {
    char buffer[512];
    unsigned long code = ERR_get_error();
    char reason[256] = "unknown";
    if (code) ERR_error_string_n(code, reason, sizeof(reason));
    snprintf(buffer, sizeof(buffer), "%s: %s", what, reason);
    return strdup(buffer);
}

static EVP_PKEY *make_p256_key(void) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (!ctx) return NULL;
    if (EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0) {
        key = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static char *private_key_pem(EVP_PKEY *key) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    char *out = NULL;
    // PKCS#8 "BEGIN PRIVATE KEY", which Go's crypto/x509 and kube-apiserver read.
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) out = bio_to_string(bio);
    BIO_free(bio);
    return out;
}

static char *public_key_pem(EVP_PKEY *key) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    char *out = NULL;
    if (PEM_write_bio_PUBKEY(bio, key)) out = bio_to_string(bio);
    BIO_free(bio);
    return out;
}

static char *certificate_pem(X509 *cert) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) return NULL;
    char *out = NULL;
    if (PEM_write_bio_X509(bio, cert)) out = bio_to_string(bio);
    BIO_free(bio);
    return out;
}

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *make_certificate(EVP_PKEY *key, const char *common_name, X509 *issuer, EVP_PKEY *issuer_key,
                              int days, int is_ca, const char *san) {
    X509 *cert = X509_new();
    if (!cert) return NULL;
    X509_set_version(cert, 2);
    BIGNUM *serial = BN_new();
    ASN1_INTEGER *asn1_serial = NULL;
    if (!serial || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !(asn1_serial = BN_to_ASN1_INTEGER(serial, NULL)) || !X509_set_serialNumber(cert, asn1_serial)) {
        BN_free(serial);
        ASN1_INTEGER_free(asn1_serial);
        X509_free(cert);
        return NULL;
    }
    BN_free(serial);
    ASN1_INTEGER_free(asn1_serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60 * 60);
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 24 * 60 * 60);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"k8senv", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509 *issuer_cert = issuer ? issuer : cert;
    int ok = 1;
    if (is_ca) {
        ok = ok && add_extension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
        ok = ok && add_extension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
        ok = ok && add_extension(cert, issuer_cert, NID_subject_key_identifier, "hash");
    } else {
        ok = ok && add_extension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
        ok = ok && add_extension(cert, issuer_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        ok = ok && add_extension(cert, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
        ok = ok && add_extension(cert, issuer_cert, NID_subject_key_identifier, "hash");
        ok = ok && add_extension(cert, issuer_cert, NID_authority_key_identifier, "keyid:always");
        if (san && *san) ok = ok && add_extension(cert, issuer_cert, NID_subject_alt_name, san);
    }
    if (!ok || !X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256())) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static void append_list(char *out, size_t size, const char *prefix, const char *list) {
    if (!list || !*list) return;
    char *copy = strdup(list);
    if (!copy) return;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*out) strncat(out, ",", size - strlen(out) - 1);
        strncat(out, prefix, size - strlen(out) - 1);
        strncat(out, item, size - strlen(out) - 1);
    }
    free(copy);
}

k8senv_certificates k8senv_make_certificates(const char *common_name, const char *dns_names,
                                             const char *ip_addresses, int days) {
    k8senv_certificates result;
    memset(&result, 0, sizeof(result));
    EVP_PKEY *ca_key = make_p256_key();
    EVP_PKEY *serving_key = make_p256_key();
    EVP_PKEY *sa_key = make_p256_key();
    X509 *ca = NULL, *serving = NULL;
    if (!ca_key || !serving_key || !sa_key) {
        result.error = last_error("generating an ECDSA P-256 key");
        goto done;
    }
    char ca_name[300];
    snprintf(ca_name, sizeof(ca_name), "%s CA", common_name);
    ca = make_certificate(ca_key, ca_name, NULL, NULL, days, 1, NULL);
    if (!ca) {
        result.error = last_error("making the CA certificate");
        goto done;
    }
    char san[4096] = "";
    append_list(san, sizeof(san), "DNS:", dns_names);
    append_list(san, sizeof(san), "IP:", ip_addresses);
    serving = make_certificate(serving_key, common_name, ca, ca_key, days, 0, san);
    if (!serving) {
        result.error = last_error("making the serving certificate");
        goto done;
    }
    result.ca_cert = certificate_pem(ca);
    result.ca_key = private_key_pem(ca_key);
    result.serving_cert = certificate_pem(serving);
    result.serving_key = private_key_pem(serving_key);
    result.service_account_key = private_key_pem(sa_key);
    result.service_account_public_key = public_key_pem(sa_key);
    if (!result.ca_cert || !result.ca_key || !result.serving_cert || !result.serving_key ||
        !result.service_account_key || !result.service_account_public_key) {
        k8senv_free_certificates(&result);
        result.error = last_error("encoding PEM");
    }
done:
    X509_free(ca);
    X509_free(serving);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(serving_key);
    EVP_PKEY_free(sa_key);
    return result;
}

void k8senv_free_certificates(k8senv_certificates *c) {
    free(c->ca_cert);
    free(c->ca_key);
    free(c->serving_cert);
    free(c->serving_key);
    free(c->service_account_key);
    free(c->service_account_public_key);
    free(c->error);
    memset(c, 0, sizeof(*c));
}
