// Blocking Asio/Beast on threads: one accepting, one per connection. Each connection thread reads
// requests until the peer closes; a held request (no answer) blocks on a read that ends when the
// peer closes or the receiver shuts the socket down.
#include "tests/support/webhook_receiver.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <list>

namespace jobsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct webhook_receiver::impl {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::optional<asio::ssl::context> tls;
    std::mutex sockets_mutex;
    std::list<tcp::socket*> sockets;  // open connections, to shut down at stop
};

namespace {

template <class Stream>
void serve_stream(Stream& stream,
                  const std::function<bool(const http::request<http::string_body>&,
                                           http::response<http::string_body>&)>& handle,
                  const std::atomic<int>& interim) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        beast::error_code ec;
        http::read(stream, buffer, req, ec);
        if (ec) return;
        http::response<http::string_body> res;
        if (!handle(req, res)) {  // no answer: wait for the peer to give up
            char byte;
            stream.read_some(asio::buffer(&byte, 1), ec);
            return;
        }
        if (const int code = interim.load(); code != 0) {
            const std::string head =
                "HTTP/1.1 " + std::to_string(code) + " Interim\r\nLink: </style.css>; rel=preload\r\n\r\n";
            asio::write(stream, asio::buffer(head), ec);
        }
        if (!ec) http::write(stream, res, ec);
        if (ec || !req.keep_alive()) return;
    }
}

std::optional<std::string> b64decode(const std::string& text) {
    std::string out(text.size(), '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    std::size_t size = static_cast<std::size_t>(n);
    if (text.ends_with("=="))
        size -= 2;
    else if (text.ends_with("="))
        size -= 1;
    out.resize(size);
    return out;
}

std::string b64encode(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

}  // namespace

webhook_receiver::webhook_receiver(responder answer, std::filesystem::path certificate,
                                   std::filesystem::path key)
    : impl_(std::make_unique<impl>()), answer_(std::move(answer)) {
    if (!certificate.empty()) {
        tls_ = true;
        impl_->tls.emplace(asio::ssl::context::tls_server);
        impl_->tls->use_certificate_chain_file(certificate.string());
        impl_->tls->use_private_key_file(key.string(), asio::ssl::context::pem);
    }
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
    acceptor_thread_ = std::thread([this] {
        for (;;) {
            beast::error_code ec;
            tcp::socket s(impl_->ioc);
            impl_->acceptor.accept(s, ec);
            if (ec || stopping_) return;
            ++accepted_;
            const auto now_open = ++open_;
            std::size_t seen = max_open_;
            while (now_open > seen && !max_open_.compare_exchange_weak(seen, now_open)) {
            }
            std::lock_guard lock(mutex_);
            connection_threads_.emplace_back([this, fd = s.release()] { serve(fd); });
        }
    });
}

webhook_receiver::~webhook_receiver() {
    stopping_ = true;
    beast::error_code ignored;
    // Wake the accept with a connection of our own, then shut every connection down.
    {
        tcp::socket poke(impl_->ioc);
        poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
    }
    acceptor_thread_.join();
    impl_->acceptor.close(ignored);
    {
        std::lock_guard lock(impl_->sockets_mutex);
        for (auto* s : impl_->sockets) s->shutdown(tcp::socket::shutdown_both, ignored);
    }
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        threads.swap(connection_threads_);
    }
    for (auto& t : threads) t.join();
}

void webhook_receiver::serve(int fd) {
    tcp::socket socket(impl_->ioc, tcp::v4(), fd);
    std::list<tcp::socket*>::iterator me;
    {
        std::lock_guard lock(impl_->sockets_mutex);
        me = impl_->sockets.insert(impl_->sockets.end(), &socket);
    }
    auto handle = [this](const http::request<http::string_body>& req,
                         http::response<http::string_body>& res) {
        received_webhook w{std::string(req.target()),
                           std::string(req["webhook-id"]),
                           std::string(req["webhook-timestamp"]),
                           std::string(req["webhook-signature"]),
                           std::string(req[http::field::content_type]),
                           req.body(),
                           std::chrono::steady_clock::now(),
                           std::string(req["traceparent"])};
        std::size_t index;
        responder answer;
        {
            std::lock_guard lock(mutex_);
            index = received_.size();
            received_.push_back(w);
            answer = answer_;
        }
        changed_.notify_all();
        const auto status = answer(w, index);
        if (!status) return false;
        res = http::response<http::string_body>(static_cast<http::status>(*status), 11);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return true;
    };
    if (tls_) {
        asio::ssl::stream<tcp::socket&> stream(socket, *impl_->tls);
        beast::error_code ec;
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) serve_stream(stream, handle, interim_);
    } else {
        serve_stream(socket, handle, interim_);
    }
    {
        std::lock_guard lock(impl_->sockets_mutex);
        impl_->sockets.erase(me);
    }
    --open_;
}

std::string webhook_receiver::url(const std::string& host) const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_) + "/hooks";
}

void webhook_receiver::set_responder(responder answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
}

std::vector<received_webhook> webhook_receiver::received() const {
    std::lock_guard lock(mutex_);
    return received_;
}

std::vector<received_webhook> webhook_receiver::wait_for(std::size_t n,
                                                         std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
    return received_;
}

std::vector<std::string> signatures_of(const received_webhook& w) {
    std::vector<std::string> out;
    std::string_view rest = w.signature;
    while (!rest.empty()) {
        const auto space = rest.find(' ');
        if (auto item = rest.substr(0, space); !item.empty()) out.emplace_back(item);
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    }
    return out;
}

bool verify_signature(const std::string& secret, const received_webhook& w) {
    if (!secret.starts_with("whsec_")) return false;
    const auto key = b64decode(secret.substr(6));
    if (!key) return false;
    const std::string content = w.id + "." + w.timestamp + "." + w.body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
         reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len);
    const std::string expected = "v1," + b64encode(mac, len);
    const auto sigs = signatures_of(w);
    return std::any_of(sigs.begin(), sigs.end(), [&](const std::string& s) {
        return s.size() == expected.size() && CRYPTO_memcmp(s.data(), expected.data(), s.size()) == 0;
    });
}

}  // namespace jobsd::test
