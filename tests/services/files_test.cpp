// The files plugin end to end, on both databases and both backends (local
// files, database chunks): the real files.so through the loader, scripts
// calling files:: over loopback, serve() with ETag, Range and conditional
// requests, the admin API (streamed PUT, multipart, download, patch), signed
// URLs, triggers, corrupted bytes, limits and quotas, the sweep and app
// deletion. Large bodies, RSS and kill -9 are in e2e/files_e2e_test.cpp.
#include <openssl/sha.h>

#include <filesystem>
#include <fstream>

#include "picloud/sdk/text.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;
using namespace std::chrono_literals;

namespace {

using V = sdk::Value;

struct Setup {
  Backend db;
  std::string backend;  // local or database
};
std::string setup_name(const Setup& s) { return backend_name(s.db) + "_" + s.backend; }
void PrintTo(const Setup& s, std::ostream* os) { *os << setup_name(s); }

// An instance with files (and kv, for trigger handlers to record in), its
// data directory kept so that tests can reach the bytes on disk.
struct FilesInstance {
  TempDir data;
  std::unique_ptr<Instance> pc;
  std::string blobs_dir() const { return data.path() + "/plugins/files/blobs"; }
  std::string tmp_dir() const { return data.path() + "/plugins/files/tmp"; }
};

std::unique_ptr<FilesInstance> start_files(const Setup& s, std::map<std::string, std::string> extra = {},
                                           bool whole_cast = true) {
  auto fi = std::make_unique<FilesInstance>();
  std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "files,kv"},
      {"PICLOUD_SERVER_DATA_DIR", fi->data.path()},
      {"PICLOUD_FILES_BACKEND", s.backend},
      {"PICLOUD_FILES_MAX_FILE_BYTES", std::to_string(8 << 20)},
      // Small chunks, so that small test files span several.
      {"PICLOUD_FILES_CHUNK_BYTES", "4096"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  fi->pc = std::make_unique<Instance>(s.db, env);
  fi->pc->cast_owner();
  if (whole_cast) fi->pc->cast();
  return fi;
}

FilesInstance& files_instance(const Setup& s) {
  static std::map<std::string, std::unique_ptr<FilesInstance>> instances;
  auto& slot = instances[setup_name(s)];
  if (!slot) slot = start_files(s, {}, false);
  return *slot;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  return hex({reinterpret_cast<const char*>(d), sizeof d});
}

// Bytes that are not text: every value 0-255, over and over.
std::string binary(std::size_t n, unsigned seed = 7) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 31 + seed * 17 + i / 251) & 0xff);
  return out;
}

// Every files:: method, driven by a JSON body {"op", "c", "name", "data"
// (base64), "type", "meta", ...}; bytes come back as hex.
const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  string op = a.get_string("op");
  files::Collection@ c = files::collection(a.get_string("c", "docs"));
  json r;
  if (op == "put") {
    json m = a["meta"];
    r = c.put(a.get_string("name"), base64::decode_bytes(a.get_string("data")), a.get_string("type", ""), m);
  } else if (op == "get") {
    array<uint8>@ b = c.get(a.get_string("name"));
    if (b is null) r = json(); else r = hex::encode(b);
  } else if (op == "head") r = c.head(a.get_string("name"));
  else if (op == "delete") r = c.delete(a.get_string("name"));
  else if (op == "list") r = c.list(a.get_string("prefix", ""), a.get_string("cursor", ""), a.get_int("limit", 100));
  else if (op == "signed_url") r = c.signed_url(a.get_string("name"), a.get_int("ttl", 3600));
  else if (op == "collection_name") r = c.name();
  else throw("unknown op " + op);
  res.json(r);
})";

// Serves GET /f/{name} from collection "docs", 404 when missing; the
// script's own header stays unless serve() sets it.
const char* kServer = R"(
void handle(request@ req, response@ res) {
  res.set_header("cache-control", "max-age=60");
  res.set_header("etag", "\"from-the-script\"");
  if (!files::collection("docs").serve(res, req.param("name"))) {
    res.status = 404;
    res.text("no such file");
  }
})";

void drive_app(Instance& pc, const std::string& slug) {
  make_app(pc, slug);
  save_script(pc, slug, "drive", kDriver);
  bind_route(pc, slug, R"({"script":"drive","path":"/files","methods":["POST"]})");
  save_script(pc, slug, "serve", kServer);
  bind_route(pc, slug, R"({"script":"serve","path":"/f/{name}","methods":["GET"]})");
}

DriverReply drive(Instance& pc, const std::string& slug, const V& args) { return drive_at(pc, slug, "/files", args); }

V ok(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 200) << sdk::to_json(args).substr(0, 300) << " -> " << r.body;
  return r.json;
}

std::string refused(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive(pc, slug, args);
  EXPECT_EQ(r.status, 502) << sdk::to_json(args).substr(0, 300) << " -> " << r.body;
  return r.error();
}

V put(Instance& pc, const std::string& slug, const std::string& name, const std::string& data, V extra = V::object()) {
  V args = V::object({{"op", "put"}, {"name", name}, {"data", sdk::base64url_encode(data)}});
  for (const auto& [k, v] : extra.as_object()) args.as_object()[k] = v;
  return ok(pc, slug, args);
}

std::int64_t count(Instance& pc, const std::string& sql, const sdk::Params& params = {}) {
  auto r = pc.db().query(sql, params);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? r->rows[0][0].as_int() : -1;
}

std::int64_t files_in(const std::string& dir) {
  std::int64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) ++n;
  return n;
}

class Files : public ::testing::TestWithParam<Setup> {
 protected:
  FilesInstance& fi() { return files_instance(GetParam()); }
  Instance& pc() { return *fi().pc; }
};

TEST_P(Files, ScriptsStoreReadListAndDeleteFilesOfEverySize) {
  Instance& pc = this->pc();
  drive_app(pc, "frt");
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
                           std::size_t{10000}, std::size_t{300000}}) {
    std::string name = "blob-" + std::to_string(size) + ".bin";
    std::string data = binary(size, static_cast<unsigned>(size));
    V head = put(pc, "frt", name, data);
    EXPECT_EQ(head["name"], V(name));
    EXPECT_EQ(head["collection"], V("docs"));
    EXPECT_EQ(head["size"], V(static_cast<std::int64_t>(size)));
    EXPECT_EQ(head["sha256"], V(sha256_hex(data)));
    EXPECT_EQ(head["version"], V(1));
    EXPECT_EQ(head["content_type"], V("application/octet-stream"));
    EXPECT_EQ(head["metadata"], V::object());
    EXPECT_TRUE(ok(pc, "frt", V::object({{"op", "get"}, {"name", name}})) == V(hex(data))) << size;
    EXPECT_EQ(ok(pc, "frt", V::object({{"op", "head"}, {"name", name}})), head);
  }
  // Replacing keeps created_at, bumps the version, and the type follows the
  // extension unless given.
  V first = put(pc, "frt", "notes.txt", "one", V::object({{"meta", V::object({{"by", "ada"}})}}));
  EXPECT_EQ(first["content_type"], V("text/plain; charset=utf-8"));
  EXPECT_EQ(first["metadata"], V::object({{"by", "ada"}}));
  V second = put(pc, "frt", "notes.txt", "two!", V::object({{"type", "text/markdown"}}));
  EXPECT_EQ(second["version"], V(2));
  EXPECT_EQ(second["created_at"], first["created_at"]);
  EXPECT_EQ(second["content_type"], V("text/markdown"));
  EXPECT_EQ(second["metadata"], V::object());
  EXPECT_EQ(ok(pc, "frt", V::object({{"op", "get"}, {"name", "notes.txt"}})), V(hex("two!")));
  // Parameters are kept as given, quoted ones too.
  const std::string with_parameters = "text/plain;charset=\"utf-8\" ; format=flowed;";
  EXPECT_EQ(put(pc, "frt", "notes.txt", "three", V::object({{"type", with_parameters}}))["content_type"],
            V(with_parameters));

  // Listing: by prefix, a page at a time.
  for (const char* n : {"img/a.png", "img/b.png", "img/c.png", "imgx"}) put(pc, "frt", n, n);
  V page = ok(pc, "frt", V::object({{"op", "list"}, {"prefix", "img/"}, {"limit", 2}}));
  ASSERT_EQ(page["files"].size(), 2u) << sdk::to_json(page);
  EXPECT_EQ(page["files"][0]["name"], V("img/a.png"));
  EXPECT_EQ(page["files"][0]["content_type"], V("image/png"));
  V rest = ok(pc, "frt", V::object({{"op", "list"}, {"prefix", "img/"}, {"cursor", page["next_cursor"]}}));
  ASSERT_EQ(rest["files"].size(), 1u);
  EXPECT_EQ(rest["files"][0]["name"], V("img/c.png"));
  EXPECT_TRUE(rest["next_cursor"].is_null());

  // Missing files are null / false; delete says whether there was one.
  EXPECT_TRUE(ok(pc, "frt", V::object({{"op", "get"}, {"name", "nope"}})).is_null());
  EXPECT_TRUE(ok(pc, "frt", V::object({{"op", "head"}, {"name", "nope"}})).is_null());
  EXPECT_EQ(ok(pc, "frt", V::object({{"op", "delete"}, {"name", "img/a.png"}})), V(true));
  EXPECT_EQ(ok(pc, "frt", V::object({{"op", "delete"}, {"name", "img/a.png"}})), V(false));
  EXPECT_TRUE(ok(pc, "frt", V::object({{"op", "get"}, {"name", "img/a.png"}})).is_null());
  EXPECT_EQ(ok(pc, "frt", V::object({{"op", "collection_name"}, {"c", "pics"}})), V("pics"));
}

TEST_P(Files, BadInputIsRefusedAndStoresNothing) {
  Instance& pc = this->pc();
  std::string app = make_app(pc, "fbad");
  save_script(pc, "fbad", "drive", kDriver);
  bind_route(pc, "fbad", R"({"script":"drive","path":"/files","methods":["POST"]})");
  auto args = [](V extra) {
    V a = V::object({{"op", "put"}, {"name", "x"}, {"data", "YWJj"}});
    for (const auto& [k, v] : extra.as_object()) a.as_object()[k] = v;
    return a;
  };
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"name", ""}}))), "file name is empty"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"name", "a\nb"}}))), "control character"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"name", "a\xc2\x85" "b"}}))), "control character"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"name", std::string(1025, 'n')}}))), "at most 1024"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"c", "a b"}}))), "may hold only letters"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"type", "png"}}))), "not a media type"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"type", "text/plain\r\nx: y"}}))), "control character"));
  // A browser takes the last type after a comma: no second type rides in a parameter.
  for (const char* type : {"image/png; x=1, text/html", "image/png, text/html", "image/png; x=\"a,b\"", "image/png; x=\"a\\,text/html\"",
                           "image/png; x", "image/png; =1", "image/png x", "image/png; x=\"open", "/png"})
    EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"type", type}}))), "not a media type")) << type;
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"meta", V::array({1})}}))), "metadata must be a JSON object"));
  EXPECT_TRUE(contains(refused(pc, "fbad", args(V::object({{"meta", V::object({{"x", std::string(9000, 'm')}})}}))),
                       "at most 8192"));
  EXPECT_TRUE(contains(refused(pc, "fbad", V::object({{"op", "list"}, {"limit", 0}})), "limit must be from 1 to 1000"));
  EXPECT_TRUE(contains(refused(pc, "fbad", V::object({{"op", "list"}, {"cursor", "%%%"}})), "malformed cursor"));
  EXPECT_TRUE(contains(refused(pc, "fbad", V::object({{"op", "signed_url"}, {"name", "x"}, {"ttl", 0}})),
                       "ttl_seconds must be from 1"));
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_objects WHERE app_id = ?", {app}), 0);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_blobs WHERE app_id = ?", {app}), 0);
}

TEST_P(Files, ServeAnswersWithTheFileEtagsRangesAndConditionalRequests) {
  Instance& pc = this->pc();
  drive_app(pc, "fserve");
  std::string data = binary(10000, 3);
  V head = put(pc, "fserve", "a.png", data);
  const std::string etag = "\"" + sha256_hex(data) + "\"";
  auto get = [&](std::map<std::string, std::string> headers = {}, const std::string& method = "GET",
                 const std::string& name = "a.png") {
    return on(pc, "fserve.localhost", method, "/f/" + name, "", std::move(headers));
  };
  auto whole = get();
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.body, data);
  EXPECT_EQ(whole.headers["content-type"], "image/png");
  EXPECT_EQ(whole.headers["etag"], etag);  // the file's, over the script's
  EXPECT_EQ(whole.headers["accept-ranges"], "bytes");
  EXPECT_EQ(whole.headers["cache-control"], "max-age=60");  // the script's own stays
  EXPECT_EQ(whole.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(whole.headers["content-length"], "10000");
  EXPECT_FALSE(whole.headers["last-modified"].empty());

  auto head_only = get({}, "HEAD");
  EXPECT_EQ(head_only.status, 200);
  EXPECT_EQ(head_only.headers["content-length"], "10000");
  EXPECT_EQ(head_only.body, "");

  // Conditional requests (RFC 9110 13.1).
  EXPECT_EQ(get({{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(get({{"If-None-Match", "W/" + etag}}).status, 304);  // weak comparison
  EXPECT_EQ(get({{"If-None-Match", "\"other\", " + etag}}).status, 304);
  EXPECT_EQ(get({{"If-None-Match", "*"}}).status, 304);
  EXPECT_EQ(get({{"If-None-Match", "\"other\""}}).status, 200);
  EXPECT_EQ(get({{"If-Modified-Since", whole.headers["last-modified"]}}).status, 304);
  EXPECT_EQ(get({{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}}).status, 200);
  // If-None-Match wins over If-Modified-Since.
  EXPECT_EQ(get({{"If-None-Match", "\"other\""}, {"If-Modified-Since", whole.headers["last-modified"]}}).status, 200);
  EXPECT_EQ(get({{"If-Match", "\"other\""}}).status, 412);
  EXPECT_EQ(get({{"If-Match", "W/" + etag}}).status, 412);  // strong comparison
  EXPECT_EQ(get({{"If-Match", etag}}).status, 200);
  EXPECT_EQ(get({{"If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}}).status, 412);

  // Ranges (RFC 9110 14).
  auto range = [&](const std::string& spec, std::map<std::string, std::string> more = {}) {
    more["Range"] = spec;
    return get(more);
  };
  auto r = range("bytes=0-99");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data.substr(0, 100));
  EXPECT_EQ(r.headers["content-range"], "bytes 0-99/10000");
  r = range("bytes=9990-");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data.substr(9990));
  r = range("bytes=-5");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data.substr(9995));
  EXPECT_EQ(r.headers["content-range"], "bytes 9995-9999/10000");
  r = range("bytes=9000-20000");  // the last position is clipped
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.headers["content-range"], "bytes 9000-9999/10000");
  EXPECT_EQ(r.body, data.substr(9000));
  r = range("bytes=4000-4100");  // spans chunks of the database backend
  EXPECT_EQ(r.body, data.substr(4000, 101));
  r = range("bytes=10000-");
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.headers["content-range"], "bytes */10000");
  EXPECT_EQ(range("bytes=-0").status, 416);
  for (const char* ignored : {"bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=x-", "bytes 0-1"}) {
    auto w = range(ignored);
    EXPECT_EQ(w.status, 200) << ignored;
    EXPECT_EQ(w.body.size(), data.size()) << ignored;
  }
  EXPECT_EQ(range("bytes=0-0", {{"If-Range", etag}}).status, 206);
  EXPECT_EQ(range("bytes=0-0", {{"If-Range", "\"old\""}}).status, 200);
  EXPECT_EQ(range("bytes=0-0", {{"If-Range", "W/" + etag}}).status, 200);
  // A date is too weak to join two parts of a file by: the whole file.
  EXPECT_EQ(range("bytes=0-0", {{"If-Range", whole.headers["last-modified"]}}).status, 200);
  EXPECT_EQ(range("BYTES=0-0").status, 206);  // the unit is case-insensitive
  EXPECT_EQ(range("bytes=9999-99999999999999999999999").headers["content-range"], "bytes 9999-9999/10000");

  // An empty file: any range is unsatisfiable.
  put(pc, "fserve", "empty", "");
  auto empty = get({}, "GET", "empty");
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, "");
  EXPECT_EQ(get({{"Range", "bytes=0-"}}, "GET", "empty").status, 416);

  // Missing: serve() says so and leaves the response to the script.
  auto missing = get({}, "GET", "nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "no such file");
}

TEST_P(Files, AdminApiUploadsDownloadsPatchesAndDeletes) {
  Instance& pc = this->pc();
  pc.cast();  // the users and apps: one test per process under ctest
  const std::string base = "/apps/alpha/files";
  std::string data = binary(50000, 9);
  // A raw PUT: the body is the file.
  auto created = pc.call("PUT", base + "/reports/file?name=q1%2Fsales.csv", pc.eddie, data,
                         {{"Content-Type", "text/csv"}, {"PiCloud-Metadata", R"({"quarter":1})"}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["name"], V("q1/sales.csv"));
  EXPECT_EQ(created.json["content_type"], V("text/csv"));
  EXPECT_EQ(created.json["sha256"], V(sha256_hex(data)));
  EXPECT_EQ(created.json["metadata"], V::object({{"quarter", 1}}));
  EXPECT_EQ(created.json["updated_at"].string_or("").size(), 24u) << created.body;
  auto replaced = pc.call("PUT", base + "/reports/file?name=q1%2Fsales.csv", pc.eddie, data + "x",
                          {{"Content-Type", "text/csv"}});
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(replaced.json["version"], V(2));

  // An empty file; a type said to be unknown comes from the name.
  auto empty = pc.call("PUT", base + "/reports/file?name=empty.png", pc.eddie, "",
                       {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(empty.status, 201) << empty.body;
  EXPECT_EQ(empty.json["size"], V(0));
  EXPECT_EQ(empty.json["content_type"], V("image/png"));
  EXPECT_EQ(pc.call("GET", base + "/reports/file?name=empty.png", pc.vera).body, "");
  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=empty.png", pc.eddie).status, 204);

  // Download: saved, never shown in the admin origin.
  auto down = pc.call("GET", base + "/reports/file?name=q1%2Fsales.csv", pc.vera);
  ASSERT_EQ(down.status, 200);
  EXPECT_EQ(down.body, data + "x");
  EXPECT_EQ(down.headers["content-disposition"], "attachment; filename*=UTF-8''sales.csv");
  EXPECT_EQ(down.headers["content-security-policy"], "sandbox");
  auto part = pc.call("GET", base + "/reports/file?name=q1%2Fsales.csv", pc.vera, "", {{"Range", "bytes=10-19"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, data.substr(10, 10));

  auto meta = pc.get(base + "/reports/meta?name=q1%2Fsales.csv", pc.vera);
  ASSERT_EQ(meta.status, 200);
  EXPECT_EQ(meta.json["size"], V(50001));

  // Patch: type and metadata, not the bytes.
  auto patched = pc.call("PATCH", base + "/reports/file?name=q1%2Fsales.csv", pc.eddie,
                         R"({"content_type":"text/plain","metadata":{"quarter":2}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["version"], V(3));
  EXPECT_EQ(patched.json["content_type"], V("text/plain"));
  EXPECT_EQ(patched.json["metadata"], V::object({{"quarter", 2}}));
  EXPECT_EQ(patched.json["sha256"], V(sha256_hex(data + "x")));
  auto bad_patch = [&](const std::string& body, const std::string& part) {
    auto r = pc.call("PATCH", base + "/reports/file?name=q1%2Fsales.csv", pc.eddie, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_TRUE(contains(r.message(), part)) << body;
  };
  bad_patch(R"({"size":1})", "size: unknown field");
  bad_patch(R"({})", "give content_type, metadata or both");
  bad_patch(R"({"content_type":"nope"})", "not a media type");
  bad_patch(R"({"metadata":"x"})", "must be a JSON object");

  // Multipart, as a browser's form sends it: metadata, then files.
  std::string form =
      "--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"from\":\"form\"}\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
      "hello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.bin\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n" +
      data + "\r\n--XyZ--\r\n";
  auto uploaded = pc.call("POST", base + "/reports", pc.eddie, form, {{"Content-Type", "multipart/form-data; boundary=XyZ"}});
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  ASSERT_EQ(uploaded.json["files"].size(), 2u);
  EXPECT_EQ(uploaded.json["files"][0]["name"], V("a.txt"));
  EXPECT_EQ(uploaded.json["files"][0]["size"], V(5));
  EXPECT_EQ(uploaded.json["files"][0]["metadata"], V::object({{"from", "form"}}));
  EXPECT_EQ(uploaded.json["files"][1]["sha256"], V(sha256_hex(data)));
  const std::string multipart = "multipart/form-data; boundary=b";
  auto cut = pc.call("POST", base + "/reports", pc.eddie,
                     "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\nhalf a fi",
                     {{"Content-Type", multipart}});
  EXPECT_EQ(cut.status, 400);
  EXPECT_TRUE(contains(cut.message(), "cut short")) << cut.body;
  EXPECT_EQ(pc.get(base + "/reports/meta?name=cut.txt", pc.vera).status, 404);
  auto late_meta = pc.call("POST", base + "/reports", pc.eddie,
                           "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.txt\"\r\n\r\nx\r\n"
                           "--b\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n--b--\r\n",
                           {{"Content-Type", multipart}});
  EXPECT_EQ(late_meta.status, 400);
  EXPECT_TRUE(contains(late_meta.message(), "before the files")) << late_meta.body;
  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=late.txt", pc.eddie).status, 204);
  auto empty_input = pc.call("POST", base + "/reports", pc.eddie,
                             "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kept.txt\"\r\n\r\nk\r\n--b--\r\n",
                             {{"Content-Type", multipart}});
  ASSERT_EQ(empty_input.status, 201) << empty_input.body;
  EXPECT_EQ(empty_input.json["files"].size(), 1u);
  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=kept.txt", pc.eddie).status, 204);
  auto not_form = pc.call("POST", base + "/reports", pc.eddie, "x", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(not_form.status, 415) << not_form.body;
  auto odd_part = pc.call("POST", base + "/reports", pc.eddie,
                          "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n",
                          {{"Content-Type", "multipart/form-data; boundary=b"}});
  EXPECT_EQ(odd_part.status, 400);
  EXPECT_TRUE(contains(odd_part.message(), "part 'other': unknown")) << odd_part.body;

  // Listings and usage.
  auto listed = pc.get(base + "/reports?limit=2", pc.vera);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json["items"].size(), 2u);
  EXPECT_EQ(listed.json["items"][0]["name"], V("a.txt"));
  EXPECT_FALSE(listed.json["next_cursor"].is_null());
  auto collections = pc.get(base, pc.vera);
  ASSERT_EQ(collections.status, 200) << collections.body;
  EXPECT_EQ(collections.json["items"], V::array({V::object({{"collection", "reports"}, {"files", 3}, {"bytes", 100006}})}));
  EXPECT_EQ(collections.json["usage"]["files"], V(3));
  EXPECT_EQ(collections.json["usage"]["bytes"], V(100006));

  // Capabilities: a viewer reads, an editor writes, another app's admin
  // sees nothing of this app.
  EXPECT_EQ(pc.call("PUT", base + "/reports/file?name=v", pc.vera, "x").status, 403);
  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=a.txt", pc.vera).status, 403);
  EXPECT_EQ(pc.get(base + "/reports", pc.oscar).status, 404);
  EXPECT_EQ(pc.call("GET", base + "/reports/file?name=a.txt", pc.oscar).status, 404);
  EXPECT_EQ(pc.get(base + "/reports", {}).status, 401);

  // Bad requests.
  EXPECT_EQ(pc.call("PUT", base + "/reports/file", pc.eddie, "x").status, 400);
  EXPECT_EQ(pc.call("PUT", base + "/bad%20name/file?name=x", pc.eddie, "x").status, 400);
  auto bad_meta = pc.call("PUT", base + "/reports/file?name=x", pc.eddie, "x", {{"PiCloud-Metadata", "[1]"}});
  EXPECT_EQ(bad_meta.status, 400);
  EXPECT_TRUE(contains(bad_meta.message(), "PiCloud-Metadata")) << bad_meta.body;
  EXPECT_EQ(pc.get(base + "/reports/meta?name=nope", pc.vera).status, 404);
  EXPECT_EQ(pc.call("GET", base + "/reports/file?name=nope", pc.vera).status, 404);

  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=a.txt", pc.eddie).status, 204);
  EXPECT_EQ(pc.call("DELETE", base + "/reports/file?name=a.txt", pc.eddie).status, 404);
  EXPECT_EQ(pc.get(base, pc.vera).json["usage"]["files"], V(2));
}

TEST_P(Files, AppsSeeOnlyTheirOwnFiles) {
  Instance& pc = this->pc();
  drive_app(pc, "fiso1");
  drive_app(pc, "fiso2");
  put(pc, "fiso1", "secret.txt", "one's");
  EXPECT_TRUE(ok(pc, "fiso2", V::object({{"op", "get"}, {"name", "secret.txt"}})).is_null());
  EXPECT_TRUE(ok(pc, "fiso2", V::object({{"op", "head"}, {"name", "secret.txt"}})).is_null());
  EXPECT_EQ(ok(pc, "fiso2", V::object({{"op", "delete"}, {"name", "secret.txt"}})), V(false));
  EXPECT_EQ(ok(pc, "fiso2", V::object({{"op", "list"}}))["files"], V::array());
  EXPECT_EQ(on(pc, "fiso2.localhost", "GET", "/f/secret.txt").status, 404);
  put(pc, "fiso2", "secret.txt", "two's");
  EXPECT_EQ(ok(pc, "fiso1", V::object({{"op", "get"}, {"name", "secret.txt"}})), V(hex("one's")));
  // A signed URL of one app does not open on the other's host.
  std::string url = ok(pc, "fiso1", V::object({{"op", "signed_url"}, {"name", "secret.txt"}})).string_or("");
  EXPECT_EQ(on(pc, "fiso1.localhost", "GET", url).body, "one's");
  EXPECT_EQ(on(pc, "fiso2.localhost", "GET", url).status, 403);
}

TEST_P(Files, SignedUrlsServeUntilTheyExpireAndRefuseTampering) {
  Instance& pc = this->pc();
  drive_app(pc, "fsign");
  put(pc, "fsign", "dir/report 1.html", "<script>alert(1)</script>");
  std::string url =
      ok(pc, "fsign", V::object({{"op", "signed_url"}, {"name", "dir/report 1.html"}, {"ttl", 600}})).string_or("");
  ASSERT_EQ(url.rfind("/_picloud/files/s?collection=docs&name=dir%2Freport%201.html&expires=", 0), 0u) << url;
  auto r = on(pc, "fsign.localhost", "GET", url);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "<script>alert(1)</script>");
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(r.headers["content-security-policy"], "sandbox");  // shown, but scriptless
  EXPECT_EQ(r.headers["content-disposition"], "inline; filename*=UTF-8''report%201.html");
  EXPECT_EQ(r.headers["cache-control"].rfind("private, max-age=", 0), 0u) << r.headers["cache-control"];
  // Names a path would not carry through clients and proxies unchanged.
  for (std::string odd : {"..", ".", "a//b/../c", "q?x=1#frag", "100% + more", "caf\xc3\xa9 \xf0\x9f\x93\x84"}) {
    put(pc, "fsign", odd, "odd:" + odd);
    std::string u = ok(pc, "fsign", V::object({{"op", "signed_url"}, {"name", odd}})).string_or("");
    auto got = on(pc, "fsign.localhost", "GET", u);
    EXPECT_EQ(got.status, 200) << odd << " " << u << " " << got.body;
    EXPECT_EQ(got.body, "odd:" + odd) << u;
  }
  EXPECT_EQ(on(pc, "fsign.localhost", "HEAD", url).status, 200);
  EXPECT_EQ(on(pc, "fsign.localhost", "GET", url, "", {{"Range", "bytes=0-7"}}).body, "<script>");
  EXPECT_EQ(on(pc, "fsign.localhost", "POST", url).status, 405);

  auto tampered = [&](std::string from, std::string to) {
    std::string u = url;
    auto at = u.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    u.replace(at, from.size(), to);
    return on(pc, "fsign.localhost", "GET", u).status;
  };
  EXPECT_EQ(tampered("report%201", "report%202"), 403);  // another file
  EXPECT_EQ(tampered("collection=docs", "collection=other"), 403);  // another collection
  EXPECT_EQ(tampered("expires=", "expires=9"), 403);       // a later expiry
  EXPECT_EQ(tampered("sig=", "sig=A"), 403);
  EXPECT_EQ(tampered("&sig=", "&nosig="), 403);
  // Signed for a file that is gone: the signature holds, the file does not.
  std::string gone = ok(pc, "fsign", V::object({{"op", "signed_url"}, {"name", "gone"}})).string_or("");
  EXPECT_EQ(on(pc, "fsign.localhost", "GET", gone).status, 404);

  std::string short_lived =
      ok(pc, "fsign", V::object({{"op", "signed_url"}, {"name", "dir/report 1.html"}, {"ttl", 1}})).string_or("");
  std::this_thread::sleep_for(2100ms);
  auto expired = on(pc, "fsign.localhost", "GET", short_lived);
  EXPECT_EQ(expired.status, 403);
  EXPECT_TRUE(contains(expired.body, "expired")) << expired.body;
}

// Handlers record each event they get in kv, keyed by op and name.
const char* kRecorder = R"(
void on_event(event@ e) {
  kv::collection("seen").set(e.op + ":" + e.data.get_string("name"), e.data);
})";

V seen_event(Instance& pc, const std::string& app, const std::string& key) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto rows = pc.db().query("SELECT value FROM kv_entries WHERE app_id = ? AND collection = 'seen' AND key = ?",
                              {app, key});
    if (rows && !rows->empty()) return kernel::admin::parse_stored_json(rows->rows[0][0].as_string());
    std::this_thread::sleep_for(20ms);
  }
  return V();
}

TEST_P(Files, TriggersCarryTheMetadataNeverTheBytes) {
  Instance& pc = this->pc();
  std::string app = make_app(pc, "ftrig");
  save_script(pc, "ftrig", "drive", kDriver);
  bind_route(pc, "ftrig", R"({"script":"drive","path":"/files","methods":["POST"]})");
  save_script(pc, "ftrig", "recorder", kRecorder);
  auto t = pc.post("/apps/ftrig/triggers/files", pc.owner_key, R"({"script":"recorder","filter":{"collection":"do*"}})");
  ASSERT_EQ(t.status, 201) << t.body;
  auto bad = pc.post("/apps/ftrig/triggers/files", pc.owner_key, R"({"script":"recorder","filter":{"collection":"*","ops":["upsert"]}})");
  EXPECT_EQ(bad.status, 400);

  V first = put(pc, "ftrig", "a.txt", "first", V::object({{"meta", V::object({{"k", 1}})}}));
  V insert = seen_event(pc, app, "insert:a.txt");
  EXPECT_EQ(insert["source"], V("files"));
  EXPECT_EQ(insert["collection"], V("docs"));
  EXPECT_EQ(insert["file"], first);
  EXPECT_TRUE(insert["previous"].is_null());
  V second = put(pc, "ftrig", "a.txt", "second");
  V update = seen_event(pc, app, "update:a.txt");
  EXPECT_EQ(update["file"], second);
  EXPECT_EQ(update["previous"], first);
  ok(pc, "ftrig", V::object({{"op", "delete"}, {"name", "a.txt"}}));
  V removed = seen_event(pc, app, "delete:a.txt");
  EXPECT_TRUE(removed["file"].is_null());
  EXPECT_EQ(removed["previous"], second);
  // The event is the head and nothing more: no bytes anywhere.
  std::vector<std::string> fields;
  for (const auto& [k, v] : removed.as_object()) fields.push_back(k);
  EXPECT_EQ(fields, (std::vector<std::string>{"app", "collection", "file", "name", "op", "previous", "source"}));
  std::vector<std::string> head_fields;
  for (const auto& [k, v] : removed["previous"].as_object()) head_fields.push_back(k);
  EXPECT_EQ(head_fields, (std::vector<std::string>{"collection", "content_type", "created_at", "metadata", "name",
                                                   "sha256", "size", "updated_at", "version"}));
  // A metadata patch is an update.
  put(pc, "ftrig", "p.txt", "x");
  auto patched = pc.call("PATCH", "/apps/ftrig/files/docs/file?name=p.txt", pc.owner_key, R"({"metadata":{"v":2}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  V patch_event = seen_event(pc, app, "update:p.txt");
  EXPECT_EQ(patch_event["file"]["metadata"], V::object({{"v", 2}}));
  EXPECT_EQ(patch_event["previous"]["metadata"], V::object());
  // Another collection: no event.
  put(pc, "ftrig", "b.txt", "x", V::object({{"c", "other"}}));
  put(pc, "ftrig", "c.txt", "x");  // after b.txt: once its event is in, b.txt's would be too
  EXPECT_FALSE(seen_event(pc, app, "insert:c.txt").is_null());
  EXPECT_EQ(count(pc, "SELECT count(*) FROM kv_entries WHERE app_id = ? AND key = 'insert:b.txt'", {app}), 0);
}

TEST_P(Files, CorruptedBytesAreAnErrorAndAreKept) {
  FilesInstance& fi = this->fi();
  Instance& pc = *fi.pc;
  std::string app = make_app(pc, "fcorrupt");
  save_script(pc, "fcorrupt", "drive", kDriver);
  bind_route(pc, "fcorrupt", R"({"script":"drive","path":"/files","methods":["POST"]})");
  save_script(pc, "fcorrupt", "serve", kServer);
  bind_route(pc, "fcorrupt", R"({"script":"serve","path":"/f/{name}","methods":["GET"]})");
  std::string data = binary(9000, 5);
  put(pc, "fcorrupt", "c.bin", data);
  auto rows = pc.db().query("SELECT blob_id FROM files_objects WHERE app_id = ?", {app});
  ASSERT_TRUE(rows && rows->size() == 1);
  std::string blob = rows->rows[0][0].as_string();
  // One byte changed where the bytes are kept.
  if (GetParam().backend == "local") {
    std::string path = fi.blobs_dir() + "/" + blob.substr(0, 2) + "/" + blob;
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekp(5000);
    f.put(static_cast<char>(data[5000] ^ 1));
  } else {
    auto chunk = pc.db().query("SELECT data FROM files_chunks WHERE blob_id = ? AND seq = 1", {blob});
    ASSERT_TRUE(chunk && chunk->size() == 1);
    sdk::Bytes bytes = chunk->rows[0][0].as_bytes();
    bytes[5000 - 4096] ^= 1;
    ASSERT_TRUE(pc.db().execute("UPDATE files_chunks SET data = ? WHERE blob_id = ? AND seq = 1", {V(bytes), blob}));
  }
  // Before any read found it out, a range is served as stored (ranges are
  // not verified).
  EXPECT_EQ(on(pc, "fcorrupt.localhost", "GET", "/f/c.bin", "", {{"Range", "bytes=0-99"}}).status, 206);
  // A whole download is cut short: never the corrupted file taken for whole.
  auto served = on(pc, "fcorrupt.localhost", "GET", "/f/c.bin");
  EXPECT_EQ(served.status, 200);
  EXPECT_LT(served.body.size(), data.size());
  // From then on every read is refused, ranges included (a resumed
  // download must not complete the file), until it is replaced.
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_objects WHERE app_id = ? AND corrupted > 0", {app}), 1);
  EXPECT_TRUE(contains(refused(pc, "fcorrupt", V::object({{"op", "get"}, {"name", "c.bin"}})), "corrupted"));
  auto ranged = on(pc, "fcorrupt.localhost", "GET", "/f/c.bin", "", {{"Range", "bytes=0-99"}, {"If-Range", "\"" + sha256_hex(data) + "\""}});
  EXPECT_EQ(ranged.status, 502);
  EXPECT_TRUE(contains(ranged.body, "corrupted")) << ranged.body;
  auto admin = pc.call("GET", "/apps/fcorrupt/files/docs/file?name=c.bin", pc.owner_key);
  EXPECT_EQ(admin.status, 500);
  EXPECT_EQ(admin.code(), "corrupted");
  // Kept for inspection; a new version is served again.
  EXPECT_FALSE(ok(pc, "fcorrupt", V::object({{"op", "head"}, {"name", "c.bin"}})).is_null());
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_blobs WHERE blob_id = ? AND state = 'live'", {blob}), 1);
  put(pc, "fcorrupt", "c.bin", "fresh");
  EXPECT_EQ(on(pc, "fcorrupt.localhost", "GET", "/f/c.bin").body, "fresh");
}

TEST_P(Files, DeletingAnAppDeletesItsFiles) {
  FilesInstance& fi = this->fi();
  Instance& pc = *fi.pc;
  drive_app(pc, "fgone");
  std::string app = pc.get("/apps/fgone", pc.owner_key).json["id"].string_or("");
  for (int i = 0; i < 5; ++i) put(pc, "fgone", "f" + std::to_string(i), binary(5000, i));
  put(pc, "fgone", "f0", "replaced");
  ASSERT_EQ(count(pc, "SELECT count(*) FROM files_objects WHERE app_id = ?", {app}), 5);
  std::vector<std::string> blob_paths;
  if (GetParam().backend == "local") {
    auto rows = pc.db().query("SELECT blob_id FROM files_blobs WHERE app_id = ?", {app});
    ASSERT_TRUE(rows);
    for (const auto& row : rows->rows) {
      std::string id = row[0].as_string();
      blob_paths.push_back(fi.blobs_dir() + "/" + id.substr(0, 2) + "/" + id);
      EXPECT_TRUE(std::filesystem::exists(blob_paths.back()));
    }
    EXPECT_EQ(blob_paths.size(), 5u);
  }
  auto deleted = pc.call("DELETE", "/apps/fgone", pc.owner_key);
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_objects WHERE app_id = ?", {app}), 0);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_blobs WHERE app_id = ?", {app}), 0);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_usage WHERE app_id = ?", {app}), 0);
  EXPECT_EQ(count(pc,
                  "SELECT count(*) FROM files_chunks c WHERE NOT EXISTS "
                  "(SELECT 1 FROM files_blobs b WHERE b.blob_id = c.blob_id)"),
            0);
  for (const auto& path : blob_paths) EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

// The guide's examples compile against the real plugin, and answer what
// they say.
TEST_P(Files, TheGuideExamplesCompileAndRun) {
  Instance& pc = this->pc();
  make_app(pc, "fguide");
  std::vector<std::string> examples = guide_examples("files.md");
  ASSERT_EQ(examples.size(), 3u);
  for (std::size_t i = 0; i < examples.size(); ++i)
    save_script(pc, "fguide", "example" + std::to_string(i), examples[i]);
  bind_route(pc, "fguide", R"({"script":"example0","path":"/upload","methods":["POST"]})");
  bind_route(pc, "fguide", R"({"script":"example1","path":"/avatars/{name}"})");
  bind_route(pc, "fguide", R"({"script":"example2","path":"/invoice"})");
  auto up = on(pc, "fguide.localhost", "POST", "/upload", "PNG!", {{"Content-Type", "image/png"}});
  EXPECT_EQ(up.body, R"({"read":4,"size":4,"version":1})");
  auto avatar = on(pc, "fguide.localhost", "GET", "/avatars/ada.png");
  EXPECT_EQ(avatar.body, "PNG!");
  EXPECT_EQ(avatar.headers["cache-control"], "public, max-age=3600");
  EXPECT_EQ(on(pc, "fguide.localhost", "GET", "/avatars/bob.png").body, "no such avatar");
  auto link = on(pc, "fguide.localhost", "GET", "/invoice");
  EXPECT_TRUE(contains(link.body, "/_picloud/files/s?collection=invoices&name=2026%2F11.pdf&expires=")) << link.body;
}

INSTANTIATE_TEST_SUITE_P(Backends, Files,
                         ::testing::Values(Setup{Backend::sqlite, "local"}, Setup{Backend::sqlite, "database"},
                                           Setup{Backend::postgres, "local"}, Setup{Backend::postgres, "database"}),
                         [](const auto& info) { return setup_name(info.param); });

// Limits, the sweep: instances of their own, with their own settings.
class FilesLimits : public ::testing::TestWithParam<Setup> {};

TEST_P(FilesLimits, SizeAndQuotaLimitsRefuseWithClearErrorsAndStoreNothing) {
  auto fi = start_files(GetParam(),
                        {{"PICLOUD_FILES_MAX_FILE_BYTES", "10000"},
                         {"PICLOUD_FILES_QUOTA_BYTES", "25000"},
                         {"PICLOUD_FILES_QUOTA_FILES", "3"},
                         {"PICLOUD_FILES_SCRIPT_MAX_BYTES", "9000"}},
                        false);
  Instance& pc = *fi->pc;
  drive_app(pc, "flimit");
  std::string app = pc.get("/apps/flimit", pc.owner_key).json["id"].string_or("");
  auto too_big = refused(pc, "flimit", V::object({{"op", "put"}, {"name", "big"}, {"data", sdk::base64url_encode(binary(10001))}}));
  EXPECT_TRUE(contains(too_big, "10001 bytes; at most 10000")) << too_big;
  put(pc, "flimit", "a", binary(10000));
  put(pc, "flimit", "b", binary(10000));
  auto over = refused(pc, "flimit", V::object({{"op", "put"}, {"name", "c"}, {"data", sdk::base64url_encode(binary(5001))}}));
  EXPECT_TRUE(contains(over, "quota is 25000")) << over;
  put(pc, "flimit", "c", binary(5000));
  auto files_over = refused(pc, "flimit", V::object({{"op", "put"}, {"name", "d"}, {"data", ""}}));
  EXPECT_TRUE(contains(files_over, "would have 4 files; its quota is 3")) << files_over;
  // Replacing within the quota is fine; growing past it is not. Where a
  // replaced version stays until the sweep (the database backend), it
  // counts until then: a loop of replacements cannot grow the database.
  const bool held = GetParam().backend == "database";
  if (held) {
    auto replaced = refused(pc, "flimit", V::object({{"op", "put"}, {"name", "c"}, {"data", sdk::base64url_encode(binary(4000))}}));
    EXPECT_TRUE(contains(replaced, "5000 of them replaced or deleted versions the sweep has not freed yet")) << replaced;
    put(pc, "flimit", "c", "");  // an empty version fits: 25000 held either way
    EXPECT_TRUE(contains(refused(pc, "flimit", V::object({{"op", "put"}, {"name", "c"}, {"data", "eA"}})), "quota"));
    // A held version counts at least 512 bytes (its rows): replacing the
    // empty file again, and again, does not pile up rows past the quota.
    auto empty_again = refused(pc, "flimit", V::object({{"op", "put"}, {"name", "c"}, {"data", ""}}));
    EXPECT_TRUE(contains(empty_again, "would take 25512 bytes")) << empty_again;
  } else {
    put(pc, "flimit", "c", binary(4000));
    EXPECT_TRUE(contains(refused(pc, "flimit", V::object({{"op", "put"}, {"name", "c"}, {"data", sdk::base64url_encode(binary(6000))}})),
                         "quota"));
  }
  // A script reads at most script_max_bytes whole; serve() has no such cap.
  EXPECT_TRUE(contains(refused(pc, "flimit", V::object({{"op", "get"}, {"name", "a"}})), "serve()"));
  EXPECT_EQ(on(pc, "flimit.localhost", "GET", "/f/a").body.size(), 10000u);  // collection "docs"
  // The admin API: 413 with the reason, for the raw and the multipart upload.
  auto raw = pc.call("PUT", "/apps/flimit/files/docs/file?name=big", pc.owner_key, binary(10001));
  EXPECT_EQ(raw.status, 413) << raw.body;
  auto quota = pc.call("PUT", "/apps/flimit/files/docs/file?name=e", pc.owner_key, "x");
  EXPECT_EQ(quota.status, 413) << quota.body;
  EXPECT_EQ(quota.code(), "quota_exceeded");
  // Nothing was stored by any of the refusals.
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_objects WHERE app_id = ?", {app}), 3);
  EXPECT_EQ(count(pc, "SELECT bytes FROM files_usage WHERE app_id = ?", {app}), held ? 20000 : 24000);
  EXPECT_EQ(count(pc, "SELECT count(*) FROM files_blobs WHERE app_id = ? AND state <> 'live'", {app}),
            held ? 1 : 0);  // the replaced "c", kept for readers until the sweep
  EXPECT_EQ(files_in(fi->tmp_dir()), 0);
}

TEST_P(FilesLimits, TheSweepRemovesAbandonedUploadsAndReplacedBytes) {
  auto fi = start_files(GetParam(), {{"PICLOUD_FILES_SWEEP_INTERVAL_S", "1"}, {"PICLOUD_FILES_SWEEP_GRACE_S", "1"}},
                        false);
  Instance& pc = *fi->pc;
  drive_app(pc, "fsweep");
  std::string app = pc.get("/apps/fsweep", pc.owner_key).json["id"].string_or("");
  put(pc, "fsweep", "kept", binary(9000));
  put(pc, "fsweep", "replaced", binary(9000, 1));
  put(pc, "fsweep", "replaced", binary(9000, 2));
  // An upload a crash left behind: its row says writing, its bytes are
  // half there.
  const std::string stale = "00aa00aa00aa00aa00aa00aa00aa00aa";
  ASSERT_TRUE(pc.db().execute(
      "INSERT INTO files_blobs (blob_id, app_id, state, created_at) VALUES (?, ?, 'writing', 1)", {stale, app}));
  if (GetParam().backend == "local") {
    std::ofstream(fi->tmp_dir() + "/" + stale) << "half";
  } else {
    ASSERT_TRUE(pc.db().execute("INSERT INTO files_chunks (blob_id, seq, data) VALUES (?, 0, ?)",
                                {stale, V(sdk::Bytes{1, 2, 3})}));
  }
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM files_blobs WHERE app_id = ?", {app}, 2, 15s));
  EXPECT_TRUE(wait_count(pc, "SELECT count(*) FROM files_chunks WHERE blob_id = ?", {stale}, 0, 15s));
  if (GetParam().backend == "local") {
    EXPECT_EQ(files_in(fi->tmp_dir()), 0);
    EXPECT_EQ(files_in(fi->blobs_dir()), 2);
  } else {
    EXPECT_TRUE(wait_count(pc,
                           "SELECT count(*) FROM files_chunks c WHERE NOT EXISTS (SELECT 1 FROM files_objects o "
                           "WHERE o.blob_id = c.blob_id)",
                           {}, 0, 15s));
  }
  EXPECT_EQ(ok(pc, "fsweep", V::object({{"op", "get"}, {"name", "replaced"}})), V(hex(binary(9000, 2))));
  EXPECT_EQ(ok(pc, "fsweep", V::object({{"op", "get"}, {"name", "kept"}})), V(hex(binary(9000))));
}

INSTANTIATE_TEST_SUITE_P(Backends, FilesLimits,
                         ::testing::Values(Setup{Backend::sqlite, "local"}, Setup{Backend::sqlite, "database"},
                                           Setup{Backend::postgres, "local"}, Setup{Backend::postgres, "database"}),
                         [](const auto& info) { return setup_name(info.param); });

}  // namespace
