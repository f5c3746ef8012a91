// The connection lifecycle shared by every probe, so that timeouts, pacing and the end of a
// probe behave the same for TLS and SSH.

#include "discovery/net/probe.h"

#include <boost/asio/post.hpp>

namespace certward::discovery::net::detail {

Pacer::Pacer(double per_second)
    : interval_(per_second > 0 ? std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(1.0 / per_second))
                               : SteadyClock::duration::zero()) {}

SteadyClock::duration Pacer::reserve() {
  if (interval_ == SteadyClock::duration::zero()) return interval_;
  common::MutexLock lock(mu_);
  auto now = SteadyClock::now();
  // A pause in demand does not bank slots for a burst afterwards.
  if (next_ < now) next_ = now;
  auto wait = next_ - now;
  next_ += interval_;
  return wait;
}

Probe::Probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint, Report report)
    : shared_(shared),
      endpoint_(std::move(endpoint)),
      strand_(asio::make_strand(io)),
      report_(std::move(report)),
      timer_(strand_),
      pace_timer_(strand_) {}

void Probe::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->finished_) self->run();
  });
}

void Probe::cancel() {
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->finished_) self->finish_with_error("scan cancelled");
  });
}

void Probe::report(Observation observation) {
  if (finished_) return;
  finished_ = true;
  close();
  error_code ignored;
  timer_.cancel(ignored);
  pace_timer_.cancel(ignored);
  auto report = std::move(report_);
  report_ = nullptr;
  report(std::move(observation));
}

void Probe::connect(std::function<void(std::optional<std::string>)> done) {
  // Called only once the previous connection has nothing pending.
  close();
  tls_.reset();
  socket_.reset();
  if (!target_) {
    error_code ec;
    auto address = asio::ip::make_address(endpoint_.address, ec);
    if (ec) return done("could not resolve " + endpoint_.host);
    target_.emplace(address, endpoint_.port);
  }
  auto wait = shared_.pacer.reserve();
  if (wait <= SteadyClock::duration::zero()) return dial(std::move(done));
  pace_timer_.expires_after(wait);
  pace_timer_.async_wait(guarded([this, done = std::move(done)](error_code ec) mutable {
    if (ec) return done("scan cancelled");
    dial(std::move(done));
  }));
}

void Probe::dial(std::function<void(std::optional<std::string>)> done) {
  socket_.emplace(strand_);
  arm(shared_.options.connect_timeout);
  socket_->async_connect(*target_, guarded([this, done = std::move(done)](error_code ec) {
    disarm();
    if (timed_out()) return done("connect timed out");
    if (ec == asio::error::connection_refused) return done("connection refused");
    if (ec) return done("connect failed: " + ec.message());
    error_code ignored;
    socket_->set_option(tcp::no_delay(true), ignored);
    done(std::nullopt);
  }));
}

void Probe::arm(std::chrono::milliseconds d) {
  timed_out_ = false;
  unsigned generation = ++generation_;
  timer_.expires_after(d);
  timer_.async_wait(guarded([this, generation](error_code ec) {
    if (ec || generation != generation_) return;
    timed_out_ = true;
    close();
  }));
}

void Probe::disarm() {
  ++generation_;
  error_code ignored;
  timer_.cancel(ignored);
}

void Probe::close() {
  error_code ignored;
  if (socket_) socket_->close(ignored);
  if (tls_) tls_->next_layer().close(ignored);
}

ssl::stream<tcp::socket>& Probe::start_tls(ssl::context& ctx) {
  tls_.emplace(std::move(*socket_), ctx);
  socket_.reset();
  return *tls_;
}

}  // namespace certward::discovery::net::detail
