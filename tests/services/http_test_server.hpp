// A real HTTP (and HTTPS) server for the http plugin's tests, in the test
// process, on an address the test chooses (loopback, or an address of a
// network namespace the test made). It answers a few paths that exercise a
// client, and records every request it was sent and the local address it
// arrived on, so a test can prove what did NOT reach it.
//
//   /echo            the request as JSON: method, uri, headers, body, peer_port
//   /status/N        status N
//   /redirect?to=URL&code=N   a redirect
//   /slow?ms=N       answers after N ms
//   /drip            one byte every 200 ms, chunked, for up to 20 s
//   /bytes?n=N       N bytes with a Content-Length
//   /endless         chunked 64 KiB blocks, up to 256 MiB
//   /chunked         three chunks
//   /short           promises 100 bytes, sends 10, closes
//   /json            {"hello":"world","n":1}
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "picloud/sdk/json.hpp"
#include "support.hpp"

namespace picloud::test {

// A CA, and server certificates signed by it, made with the openssl tool.
struct TestCertificates {
  TempDir dir;
  std::string ca_file() const { return dir.path() + "/ca.pem"; }
  std::string cert(const std::string& name) const { return dir.path() + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir.path() + "/" + name + ".key"; }

  TestCertificates() {
    const std::string d = dir.path();
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509 " + ec + " -keyout " + d + "/ca.key -out " + d + "/ca.pem -days 2 -subj '/CN=PiCloud test CA'");
    issue("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1", "ca");
    issue("other", "subjectAltName=DNS:other.example", "ca");
    // A CA nobody trusts, and a certificate from it.
    run("openssl req -x509 " + ec + " -keyout " + d + "/rogue-ca.key -out " + d +
        "/rogue-ca.pem -days 2 -subj '/CN=Rogue CA'");
    issue("rogue", "subjectAltName=DNS:localhost,IP:127.0.0.1", "rogue-ca");
  }

 private:
  static void run(const std::string& command) {
    int rc = std::system((command + " >/dev/null 2>&1").c_str());
    if (rc != 0) throw std::runtime_error("failed: " + command);
  }
  void issue(const std::string& name, const std::string& san, const std::string& ca) {
    const std::string d = dir.path();
    std::ofstream(d + "/" + name + ".ext") << san << "\n";
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d + "/" + name + ".key -out " +
        d + "/" + name + ".csr -subj '/CN=" + name + "'");
    run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/" + ca + ".pem -CAkey " + d + "/" + ca +
        ".key -CAcreateserial -days 2 -out " + d + "/" + name + ".pem -extfile " + d + "/" + name + ".ext");
  }
};

struct SeenRequest {
  std::string method;
  std::string uri;
  std::string local_address;  // where it arrived
};

class TestHttpServer {
 public:
  // Plain HTTP, or HTTPS with `cert`/`key` when given. Port 0: any free one.
  explicit TestHttpServer(const std::string& address = "127.0.0.1", int port = 0, const std::string& cert = "",
                          const std::string& key = "") {
    Poco::Net::SocketAddress at(address, static_cast<Poco::UInt16>(port));
    if (cert.empty()) {
      socket_ = std::make_unique<Poco::Net::ServerSocket>(at, 64);
    } else {
      Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, key, cert, "",
                                                               Poco::Net::Context::VERIFY_NONE);
      socket_ = std::make_unique<Poco::Net::SecureServerSocket>(at, 64, context);
    }
    https_ = !cert.empty();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(128);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(30, 0));
    // A pool of its own: every keep-alive connection a client pools holds
    // one of its threads (Poco's default pool has 16).
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), threads_, *socket_, params);
    server_->start();
  }
  ~TestHttpServer() { server_->stopAll(true); }

  int port() const { return socket_->address().port(); }
  // A URL of this server under `host` (default: the address it listens on).
  std::string url(const std::string& path, const std::string& host = "") const {
    std::string h = host;
    if (h.empty()) {
      h = socket_->address().host().toString();
      if (h.find(':') != std::string::npos) h = "[" + h + "]";
    }
    return std::string(https_ ? "https" : "http") + "://" + h + ":" + std::to_string(port()) + path;
  }
  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(TestHttpServer& server) : server_(server) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& res) override {
      std::string body;
      Poco::StreamCopier::copyToString(req.stream(), body);
      {
        std::lock_guard lock(server_.mutex_);
        server_.seen_.push_back({req.getMethod(), req.getURI(), req.serverAddress().host().toString()});
      }
      Poco::URI uri(req.getURI());
      std::string path = uri.getPath();
      auto param = [&](const std::string& name) {
        for (const auto& [k, v] : uri.getQueryParameters())
          if (k == name) return v;
        return std::string();
      };
      if (path == "/echo") {
        sdk::Value headers = sdk::Value::object();
        for (const auto& [k, v] : req) {
          std::string lower = k;
          for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          headers.set(lower, v);
        }
        auto out = sdk::Value::object({{"method", req.getMethod()},
                                       {"uri", req.getURI()},
                                       {"headers", headers},
                                       {"body", body},
                                       {"peer_port", static_cast<int>(req.clientAddress().port())}});
        res.setContentType("application/json");
        send(res, sdk::to_json(out));
      } else if (path.rfind("/status/", 0) == 0) {
        res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(std::stoi(path.substr(8))));
        send(res, "status " + path.substr(8));
      } else if (path == "/redirect") {
        std::string code = param("code");
        res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(code.empty() ? 302 : std::stoi(code)));
        res.set("Location", param("to"));
        send(res, "");
      } else if (path == "/slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(param("ms"))));
        send(res, "done");
      } else if (path == "/drip") {
        res.setChunkedTransferEncoding(true);
        auto& out = res.send();
        for (int i = 0; i < 100 && out.good(); ++i) {
          out << 'x' << std::flush;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      } else if (path == "/bytes") {
        send(res, std::string(std::stoul(param("n")), 'x'));
      } else if (path == "/endless") {
        res.setChunkedTransferEncoding(true);
        auto& out = res.send();
        std::string block(64 * 1024, 'y');
        for (int i = 0; i < 4096 && out.good(); ++i) out << block << std::flush;
      } else if (path == "/chunked") {
        res.setChunkedTransferEncoding(true);
        auto& out = res.send();
        for (const char* part : {"first,", "second,", "third"}) {
          out << part << std::flush;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      } else if (path == "/short") {
        res.setKeepAlive(false);
        res.setContentLength(100);
        res.send() << "0123456789" << std::flush;
      } else if (path == "/json") {
        res.setContentType("application/json");
        send(res, R"({"hello":"world","n":1})");
      } else {
        res.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
        send(res, "no such path");
      }
    }

   private:
    static void send(Poco::Net::HTTPServerResponse& res, const std::string& body) {
      res.setContentLength(static_cast<std::streamsize>(body.size()));
      res.send() << body;
    }
    TestHttpServer& server_;
  };

  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(TestHttpServer& server) : server_(server) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(server_);
    }

   private:
    TestHttpServer& server_;
  };

  Poco::ThreadPool threads_{2, 128};
  std::unique_ptr<Poco::Net::ServerSocket> socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  bool https_ = false;
  std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

// A server that answers every request with the same bytes, as given: for
// answers no well-behaved server library would send (cut bodies, interim
// responses, bytes after the end). Counts the connections it accepted.
class RawHttpServer {
 public:
  RawHttpServer(std::string answer, bool close_after) : answer_(std::move(answer)), close_after_(close_after) {
    socket_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
    socket_.listen(16);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawHttpServer() {
    stopping_ = true;
    Poco::Net::StreamSocket wake;
    try {
      wake.connect(socket_.address());
    } catch (...) {
    }
    thread_.join();
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + path;
  }
  int connections() const { return connections_; }

 private:
  void serve() {
    while (!stopping_) {
      Poco::Net::StreamSocket client = socket_.acceptConnection();
      if (stopping_) return;
      ++connections_;
      client.setReceiveTimeout(Poco::Timespan(2, 0));
      try {
        std::string seen;
        char buf[4096];
        for (;;) {
          int n = client.receiveBytes(buf, sizeof buf);
          if (n <= 0) break;
          seen.append(buf, static_cast<std::size_t>(n));
          // One answer per request head (these requests carry no body).
          for (auto end = seen.find("\r\n\r\n"); end != std::string::npos; end = seen.find("\r\n\r\n")) {
            seen.erase(0, end + 4);
            client.sendBytes(answer_.data(), static_cast<int>(answer_.size()));
          }
          if (close_after_) break;
        }
      } catch (...) {
      }
      client.close();
    }
  }

  Poco::Net::ServerSocket socket_;
  std::string answer_;
  bool close_after_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace picloud::test
