// Self-signed certificates made at test time with OpenSSL's API, so no key material lives in the
// repository and no openssl program is needed.
#pragma once

#include <filesystem>
#include <string>

namespace jobsd::test {

// A certificate and its private key written as PEM files.
struct certificate_files {
    std::filesystem::path certificate;
    std::filesystem::path private_key;
};

// Writes `<dir>/<name>.crt` and `<dir>/<name>.key`: a fresh P-256 key and a self-signed
// certificate for 127.0.0.1 and localhost, valid for a day. Each call makes a new key, so two
// calls give two unrelated authorities. Throws std::runtime_error on any OpenSSL failure.
certificate_files make_self_signed_certificate(const std::filesystem::path& dir, const std::string& name);

}  // namespace jobsd::test
