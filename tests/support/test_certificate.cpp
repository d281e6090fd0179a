// EVP_EC_gen for the key, X509 with subjectAltName for the certificate; every OpenSSL object is
// held by a unique_ptr with its free function, so a failing step leaks nothing.
#include "tests/support/test_certificate.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace jobsd::test {

namespace {

template <class T, void (*Free)(T*)>
struct freer {
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, freer<X509, X509_free>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, freer<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    extension_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    check(ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1, "adding an extension");
}

// Writes with `write` into a new file at `path`, readable by its owner only (it may be a key).
template <class Write>
void write_pem(const std::filesystem::path& path, Write write) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, "opening a PEM file");
    std::filesystem::permissions(path,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const bool ok = write(f) == 1;
    check(std::fclose(f) == 0 && ok, "writing a PEM file");
}

}  // namespace

certificate_files make_self_signed_certificate(const std::filesystem::path& dir, const std::string& name) {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "key generation");

    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), 2) == 1, "setting the version");  // v3, for extensions
    check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "setting the serial");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr, "setting notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr, "setting notAfter");
    X509_NAME* subject = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0) == 1,
          "setting the name");
    check(X509_set_issuer_name(cert.get(), subject) == 1, "setting the issuer");
    check(X509_set_pubkey(cert.get(), key.get()) == 1, "setting the public key");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "signing");

    certificate_files out{dir / (name + ".crt"), dir / (name + ".key")};
    write_pem(out.certificate, [&](std::FILE* f) { return PEM_write_X509(f, cert.get()); });
    write_pem(out.private_key, [&](std::FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return out;
}

}  // namespace jobsd::test
