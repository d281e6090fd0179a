// The `webhooks` section of the configuration: where deliveries may go, how many at once, how
// long each may take and how often they are retried. Every field has its default and its reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace jobsd::server::webhooks {

struct webhook_options {
    // Whether this jobsd sends deliveries (the routes and the recording of deliveries work either
    // way). Off for an instance that should only ingest; another instance on the same PostgreSQL
    // then sends them.
    bool enabled = true;
    // Hosts (by name) and address ranges (CIDR) deliveries may reach although they are loopback,
    // private, link-local, multicast or reserved. Empty: only public addresses, so no customer URL
    // can reach jobsd's own network. Tests and local receivers list "127.0.0.1/32" or "localhost".
    std::vector<std::string> allow;
    // Threads of the dispatcher's own (claims, signing, HTTP to receivers), apart from the io
    // threads that serve clients, so a delivery never waits behind a request nor a request behind
    // a delivery. One sends thousands per second; more only for many slow TLS receivers.
    unsigned threads = 1;
    // How much lower those threads run than ingestion (a Linux nice increment, 0..19; 0 = the
    // same). When the CPU is short, the threads serving clients get it first; when it is not
    // short, this changes nothing. 10 gives them about a tenth of a busy core's share. Alone it
    // does not keep a saturated writer for the creates (a delivery's store work runs on the
    // store's threads): yield_writes does that (bench/RESULTS.md, "Deliveries give way").
    unsigned nice = 10;
    // Deliveries in flight at most, all endpoints together: bounds sockets and memory whatever
    // the receivers do. 256 connections are cheap for Asio and far above what one machine needs.
    std::size_t max_in_flight = 256;
    // Deliveries in flight at most to one endpoint (or, for jobs' own URLs, one scheme://host:port),
    // so a slow receiver holds this many slots and delays nobody else; also what a receiver must
    // take at once. 8 matches what common receivers' worker pools absorb.
    std::size_t per_endpoint = 8;
    // Time to resolve and connect, to finish the TLS handshake, and for the whole answer (request
    // written, status and body read). Standard Webhooks recommends 15-30 s for an answer: a
    // receiver should acknowledge at once and work afterwards.
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds tls_timeout{5'000};
    std::chrono::milliseconds answer_timeout{15'000};
    // Name lookups running at once (server/webhooks/host_resolver.hpp), each on a thread of its
    // own: receivers whose name servers do not answer hold at most this many, not the others'.
    unsigned resolve_threads = 8;
    // Bytes of an answer read at most: only the status matters; a receiver streaming a large body
    // is cut off (the status still counts) and its connection closed.
    std::size_t response_max = 64 * 1024;
    // The delay after each failed attempt; when they are spent the delivery fails. Standard
    // Webhooks' example schedule cut at about a day: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    // (eight attempts over 27.6 h), long enough to ride out a receiver's bad day.
    std::vector<std::chrono::milliseconds> retry_schedule{
        std::chrono::seconds(5), std::chrono::minutes(5), std::chrono::minutes(30), std::chrono::hours(2),
        std::chrono::hours(5),   std::chrono::hours(10),  std::chrono::hours(10)};
    // Each delay is spread over ±this fraction of it, so receivers coming back are not stampeded.
    double retry_jitter = 0.2;
    // How often the dispatcher looks for due deliveries when nothing woke it (a status change on
    // this instance wakes it at once; retries, other instances' events and redeliveries wait up to
    // this long). Each look is one indexed query.
    std::chrono::milliseconds poll_interval{500};
    // Deliveries yield to ingestion: while on average at least this many writes wait for the
    // store's writer (sampled every 5 ms over 20 ms), the dispatcher claims nothing, for at most
    // a second at a time (so deliveries go on, slowly, under any load). A claim and the record of
    // its attempts are writer and reader work that creates would otherwise wait behind; when the
    // writer keeps up (light or normal load) its queue stays under this and nothing waits.
    // 0: never yield. 4: above what a writer that keeps up holds (it commits what is queued every
    // round, a write or two), far below what it holds saturated (tens to hundreds). Against 16 the
    // evidence is weak (bench/RESULTS.md: create rate with webhooks on 0.77 of off at 16, 0.84 at
    // 4, means of one sitting's invocations) and 4 delays nothing at 300 jobs/s.
    std::size_t yield_writes = 4;
    // Deliveries claimed per query at most.
    std::size_t claim_batch = 128;
    // How long a claim holds a delivery for this instance. Past it (the instance died) another one
    // sends it; so it must exceed connect + TLS + answer timeouts with room for a queue: 2 minutes.
    std::chrono::milliseconds claim_lease{120'000};
    // After a secret rotation the previous secret signs too (both signatures sent) for this long, so
    // receivers can switch over without losing a delivery: 24 hours.
    std::chrono::milliseconds secret_overlap{24 * 3600 * 1000};
    // An idle kept-alive connection to a receiver is closed after this long, and at most this many
    // are kept per destination.
    std::chrono::milliseconds idle_timeout{30'000};
    std::size_t idle_per_destination = 8;
    // A PEM file of CA certificates trusted for https receivers, used instead of the system's CA
    // store; "" (default) uses the system's. For private CAs and tests.
    std::string ca_file;
};

}  // namespace jobsd::server::webhooks
