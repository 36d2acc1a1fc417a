/* A throwaway certificate for the TLS tests, made with GnuTLS while the
 * tests run: no key is ever committed. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "harness.h"

static bool write_datum(const char *path, const gnutls_datum_t *datum) {
  FILE *file = fopen(path, "w");
  bool ok;

  if (file == NULL) {
    fprintf(stderr, "certs: cannot write %s\n", path);
    return false;
  }
  ok = fwrite(datum->data, 1, datum->size, file) == datum->size;
  ok = fclose(file) == 0 && ok;
  return ok;
}

bool tls_write_self_signed(const char *cert_path, const char *key_path) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t cert_pem = {NULL, 0};
  gnutls_datum_t key_pem = {NULL, 0};
  unsigned char serial[8];
  unsigned char loopback[4];
  time_t now = time(NULL);
  bool ok = false;

  memset(serial, 0, sizeof(serial));
  memcpy(serial, &now, sizeof(now) < sizeof(serial) ? sizeof(now) : sizeof(serial));
  serial[0] &= 0x7f; /* a positive serial number */
  inet_pton(AF_INET, "127.0.0.1", loopback);
  if (gnutls_x509_privkey_init(&key) < 0 ||
      gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
      gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
      gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt, now + 86400) < 0 ||
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost", 9) < 0 ||
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                           GNUTLS_FSAN_SET) < 0 ||
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, loopback, 4,
                                           GNUTLS_FSAN_APPEND) < 0 ||
      /* Its own trust anchor: a CA certificate that may also serve. */
      gnutls_x509_crt_set_basic_constraints(crt, 1, 0) < 0 ||
      gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN) <
          0 ||
      gnutls_x509_crt_set_key(crt, key) < 0 ||
      gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
      gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem) < 0 ||
      gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem) < 0) {
    fprintf(stderr, "certs: cannot make a self-signed certificate\n");
    goto out;
  }
  ok = write_datum(cert_path, &cert_pem) && write_datum(key_path, &key_pem);

out:
  gnutls_free(cert_pem.data);
  gnutls_free(key_pem.data);
  if (crt != NULL) {
    gnutls_x509_crt_deinit(crt);
  }
  if (key != NULL) {
    gnutls_x509_privkey_deinit(key);
  }
  return ok;
}
