#include "resolver.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace picloud::http {

using sdk::ErrorKind;

namespace {

// What a lookup thread and its caller share; whoever leaves last frees it.
struct Lookup {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  int status = 0;
  std::vector<IpAddress> addresses;
};

void run_lookup(const std::string& host, Lookup& lookup) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int status = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  std::vector<IpAddress> found;
  for (addrinfo* ai = list; status == 0 && ai; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_family == AF_INET) {
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      a.v6 = true;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(found.begin(), found.end(), a) == found.end()) found.push_back(a);
  }
  if (list) freeaddrinfo(list);
  std::lock_guard lock(lookup.mutex);
  lookup.status = status;
  lookup.addresses = std::move(found);
  lookup.done = true;
  lookup.done_cv.notify_all();
}

sdk::Error lookup_failed(int status) {
  switch (status) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      return sdk::make_error(ErrorKind::unavailable, "network", "network: the host name does not resolve");
    case EAI_AGAIN:
      return sdk::make_error(ErrorKind::unavailable, "network", "network: the host name lookup failed for now");
    default:
      return sdk::make_error(ErrorKind::unavailable, "network",
                             std::string("network: the host name lookup failed (") + gai_strerror(status) + ")");
  }
}

}  // namespace

Resolver::Resolver(int max_in_flight, int max_per_app) : max_in_flight_(max_in_flight), max_per_app_(max_per_app) {}

namespace {

void finished(Resolver::InFlight& in_flight, const std::string& app) {
  std::lock_guard lock(in_flight.mutex);
  --in_flight.total;
  auto it = in_flight.per_app.find(app);
  if (it != in_flight.per_app.end() && --it->second <= 0) in_flight.per_app.erase(it);
}

}  // namespace

sdk::Result<std::vector<IpAddress>> Resolver::resolve(const std::string& host, std::int64_t timeout_ms,
                                                      std::string_view app_view) {
  std::string app(app_view);
  {
    std::lock_guard lock(in_flight_->mutex);
    int& mine = in_flight_->per_app[app];
    if (in_flight_->total >= max_in_flight_ || mine >= max_per_app_) {
      if (mine == 0) in_flight_->per_app.erase(app);
      return sdk::make_error(ErrorKind::unavailable, "network", "network: too many host name lookups in progress");
    }
    ++mine;
    ++in_flight_->total;
  }
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([in_flight = in_flight_, app, host, lookup] {
      run_lookup(host, *lookup);
      finished(*in_flight, app);
    }).detach();
  } catch (const std::system_error&) {
    finished(*in_flight_, app);
    return sdk::make_error(ErrorKind::unavailable, "network", "network: no thread for the host name lookup");
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->done_cv.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(timeout_ms, 0)),
                                [&] { return lookup->done; }))
    return sdk::make_error(ErrorKind::unavailable, "timeout",
                           "timeout: the host name lookup took longer than " + std::to_string(timeout_ms) + " ms");
  if (lookup->status != 0) return lookup_failed(lookup->status);
  if (lookup->addresses.empty())
    return sdk::make_error(ErrorKind::unavailable, "network", "network: the host name has no address");
  return std::move(lookup->addresses);
}

}  // namespace picloud::http
