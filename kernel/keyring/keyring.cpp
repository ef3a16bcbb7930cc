#include "kernel/keyring/keyring.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "kernel/keyring/crypto.hpp"
#include "kernel/log.hpp"
#include "kernel/private_directory.hpp"

namespace picloud::kernel::keyring {
namespace fs = std::filesystem;
using sdk::ErrorKind;
using sdk::make_error;

namespace {

constexpr unsigned char kEnvelopeVersion = 1;
constexpr std::size_t kIdBytes = 8;
constexpr std::size_t kHeaderBytes = 1 + kIdBytes + kNonceBytes;

std::string hex(std::string_view raw) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < text.size(); i += 2)
    out.push_back(static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1])));
  return out;
}

// Fields joined with NUL, which no app id, plugin name or value name holds,
// so ("a", "bc") and ("ab", "c") never give the same bytes.
std::string joined(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p).push_back('\0');
  return out;
}

std::string derived(std::string_view master, std::string_view use, std::string_view purpose, std::string_view app) {
  return hkdf_sha256(master, "picloud keyring v1", joined({use, purpose, app}), kKeyBytes);
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

sdk::Result<KeySet> read_key_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ErrorKind::unavailable, "keyring: cannot read the key file " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0)
    return make_error(ErrorKind::invalid_argument,
                      "keyring: the key file " + path + " is readable by others (mode " +
                          [&] {
                            char m[8];
                            std::snprintf(m, sizeof m, "%04o", st.st_mode & 07777);
                            return std::string(m);
                          }() +
                          "); make it private: chmod 600 " + path);
  std::ifstream in(path);
  if (!in) return make_error(ErrorKind::unavailable, "keyring: cannot read the key file " + path);
  KeySet set;
  set.source = path;
  set.from_file = true;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string kind, id, value, extra;
    words >> kind >> id >> value >> extra;
    auto bad = [&](const std::string& why) {
      return make_error(ErrorKind::invalid_argument, "keyring: " + path + " line " + std::to_string(number) + ": " + why);
    };
    if (kind == "active" && !id.empty() && value.empty()) {
      if (!set.active.empty()) return bad("a second 'active' line");
      set.active = id;
    } else if (kind == "key" && !value.empty() && extra.empty()) {
      auto key = decode_key(value, path + " line " + std::to_string(number));
      if (!key) return key.error();
      if (key_id(*key) != id) return bad("the key's id is " + key_id(*key) + ", not " + id + " (the line was altered)");
      set.keys[id] = std::move(*key);
    } else {
      return bad("expected 'active <id>' or 'key <id> <base64>'");
    }
  }
  if (set.keys.empty()) return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " holds no key");
  if (set.active.empty()) {
    if (set.keys.size() != 1)
      return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " has several keys and no 'active' line");
    set.active = set.keys.begin()->first;
  }
  if (!set.keys.count(set.active))
    return make_error(ErrorKind::invalid_argument,
                      "keyring: the key file " + path + " marks " + set.active + " active but holds no such key");
  return set;
}

}  // namespace

std::string key_id(std::string_view key) { return hex(hmac_sha256(key, "picloud keyring key id").substr(0, kIdBytes)); }

sdk::Result<std::string> decode_key(std::string_view base64_text, std::string_view origin) {
  std::string text(base64_text);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  for (auto& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  std::size_t pad = 0;
  while (!text.empty() && text.back() == '=') text.pop_back(), ++pad;
  auto bad = [&] {
    return make_error(ErrorKind::invalid_argument,
                      "keyring: the master key from " + std::string(origin) +
                          " is not base64 of 32 bytes (make one with: openssl rand -base64 32)");
  };
  if (pad > 2 || text.size() != 43) return bad();  // 32 bytes are 43 base64 digits (+ one '=')
  for (char c : text)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return bad();
  std::string padded = text + "=";
  std::string out(33, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n != 33) return bad();
  out.resize(kKeyBytes);  // EVP_DecodeBlock counts the padding as a byte
  return out;
}

sdk::Result<void> write_key_file(const std::string& path, const KeySet& keys) {
  std::string text =
      "# PiCloud master keys. Back this file up with the database: without it the\n"
      "# values sealed with these keys cannot be read. Keep it private (mode 0600).\n"
      "active " + keys.active + "\n";
  for (const auto& [id, key] : keys.keys) text += "key " + id + " " + base64(key) + "\n";
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorKind::unavailable, "keyring: cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return make_error(ErrorKind::unavailable, "keyring: cannot write the key file " + path + ": " + why);
  }
  // The rename itself reaches the disk with its directory.
  std::string dir = fs::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

sdk::Result<KeySet> load_keys(const KeyringSettings& settings, sdk::Dialect dialect, bool may_create) {
  if (!settings.key.empty()) {
    auto key = decode_key(settings.key, "PICLOUD_KEYRING_KEY ([keyring] key)");
    if (!key) return key.error();
    KeySet set;
    set.active = key_id(*key);
    set.keys[set.active] = std::move(*key);
    set.source = "the environment (PICLOUD_KEYRING_KEY)";
    return set;
  }
  std::error_code ec;
  if (fs::exists(settings.key_file, ec)) return read_key_file(settings.key_file);
  if (settings.key_file_explicit)
    return make_error(ErrorKind::invalid_argument, "keyring: the key file " + settings.key_file +
                                                       " ([keyring] key_file) does not exist");
  if (dialect == sdk::Dialect::postgres)
    return make_error(ErrorKind::invalid_argument,
                      "keyring: on PostgreSQL the master key must be given, the same on every node: set "
                      "PICLOUD_KEYRING_KEY (openssl rand -base64 32) or [keyring] key_file");
  if (!may_create)
    return make_error(ErrorKind::invalid_argument, "keyring: there is no key file at " + settings.key_file);
  std::string dir = fs::path(settings.key_file).parent_path().string();
  if (auto made = make_private_directory(dir.empty() ? "." : dir, false); !made) return made.error();
  KeySet set;
  std::string key = random_bytes(kKeyBytes);
  set.active = key_id(key);
  set.keys[set.active] = std::move(key);
  set.source = settings.key_file;
  set.from_file = true;
  if (auto r = write_key_file(settings.key_file, set); !r) return r.error();
  write_log(LogLevel::warn, "keyring",
            "created a master key file: back it up with the database (without it, sealed values are lost)",
            {{"path", fs::absolute(settings.key_file).string()}, {"key_id", set.active}});
  return set;
}

// ---- the keyring ---------------------------------------------------------------------

sdk::Result<std::unique_ptr<Keyring>> Keyring::open(KeySet keys, sdk::Database& db) {
  auto have = [&] {
    std::string ids;
    for (const auto& [id, key] : keys.keys) ids += (ids.empty() ? "" : ", ") + id;
    return ids + " (from " + keys.source + ")";
  };
  auto r = db.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto rows = tx.query("SELECT value FROM keyring_state WHERE name = 'active_key_id'");
    if (!rows) return rows.error();
    if (rows->empty()) {
      // The first start: this node's active key becomes the database's.
      auto put = tx.execute("INSERT INTO keyring_state (name, value) VALUES ('active_key_id', ?)", {keys.active});
      if (!put) return put.error();
      return {};
    }
    std::string active = rows->rows[0][0].as_string();
    if (!keys.keys.count(active))
      return make_error(ErrorKind::invalid_argument,
                        "keyring: the database's values are sealed with master key " + active +
                            ", which this node does not have; it has " + have());
    auto used = tx.query("SELECT DISTINCT key_id FROM sealed_values");
    if (!used) return used.error();
    for (const auto& row : used->rows)
      if (!keys.keys.count(row[0].as_string()))
        return make_error(ErrorKind::invalid_argument,
                          "keyring: values in the database are sealed with master key " + row[0].as_string() +
                              ", which this node does not have; it has " + have());
    return {};
  });
  if (!r) return r.error();
  return std::unique_ptr<Keyring>(new Keyring(std::move(keys), db));
}

const std::string* Keyring::key(const std::string& id) const {
  auto it = keys_.keys.find(id);
  return it == keys_.keys.end() ? nullptr : &it->second;
}

sdk::Result<std::string> Keyring::active_id(sdk::Transaction* tx) {
  // Read each time: `picloud keys rotate` changes it while nodes run.
  const std::string sql = "SELECT value FROM keyring_state WHERE name = 'active_key_id'";
  auto rows = tx ? tx->query(sql) : db_.query(sql);
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorKind::internal, "keyring: the database records no active key");
  std::string id = rows->rows[0][0].as_string();
  if (!key(id))
    return make_error(ErrorKind::unavailable, "keyring_key_missing",
                      "the active master key " + id + " is not among this node's keys (from " + keys_.source +
                          "): give this node the new key file");
  return id;
}

sdk::Result<std::string> Keyring::seal_with(const std::string& id, std::string_view app, std::string_view purpose,
                                            std::string_view name, std::string_view plaintext) const {
  const std::string* master = key(id);
  if (!master) return make_error(ErrorKind::internal, "keyring: no master key " + id);
  std::string nonce = random_bytes(kNonceBytes);
  std::string envelope;
  envelope.push_back(static_cast<char>(kEnvelopeVersion));
  envelope += unhex(id);
  envelope += nonce;
  envelope += aes256gcm_seal(derived(*master, "seal", purpose, app), nonce, joined({"sealed", app, purpose, name}),
                             plaintext);
  return envelope;
}

sdk::Result<std::string> Keyring::seal(std::string_view app, std::string_view purpose, std::string_view name,
                                       std::string_view plaintext, sdk::Transaction* tx) {
  auto id = active_id(tx);
  if (!id) return id.error();
  return seal_with(*id, app, purpose, name, plaintext);
}

std::string Keyring::envelope_key_id(std::string_view envelope) {
  if (envelope.size() < kHeaderBytes + kTagBytes || static_cast<unsigned char>(envelope[0]) != kEnvelopeVersion)
    return "";
  return hex(envelope.substr(1, kIdBytes));
}

sdk::Result<std::string> Keyring::open_sealed(std::string_view app, std::string_view purpose, std::string_view name,
                                              std::string_view envelope) const {
  std::string id = envelope_key_id(envelope);
  if (id.empty()) return make_error(ErrorKind::internal, "corrupted", "the sealed value '" + std::string(name) + "' is malformed");
  const std::string* master = key(id);
  if (!master)
    return make_error(ErrorKind::unavailable, "keyring_key_missing",
                      "the value '" + std::string(name) + "' is sealed with master key " + id +
                          ", which this node does not have");
  auto plain = aes256gcm_open(derived(*master, "seal", purpose, app), envelope.substr(1 + kIdBytes, kNonceBytes),
                              joined({"sealed", app, purpose, name}), envelope.substr(kHeaderBytes));
  if (!plain)
    return make_error(ErrorKind::internal, "corrupted",
                      "the value '" + std::string(name) +
                          "' cannot be opened: it was not sealed for this app and name, or it was altered");
  return std::move(*plain);
}

sdk::Result<std::string> Keyring::sign(std::string_view app, std::string_view purpose, std::string_view data,
                                       sdk::Transaction* tx) {
  auto id = active_id(tx);
  if (!id) return id.error();
  return unhex(*id) + hmac_sha256(derived(*key(*id), "sign", purpose, app), data);
}

bool Keyring::verify(std::string_view app, std::string_view purpose, std::string_view data,
                     std::string_view signature) const {
  if (signature.size() != kIdBytes + 32) return false;
  const std::string* master = key(hex(signature.substr(0, kIdBytes)));
  if (!master) return false;
  std::string mac = hmac_sha256(derived(*master, "sign", purpose, app), data);
  return CRYPTO_memcmp(mac.data(), signature.data() + kIdBytes, mac.size()) == 0;
}

// ---- the vault --------------------------------------------------------------------------

namespace {

template <typename F>
auto in(sdk::Database& db, sdk::Transaction* tx, F&& body) -> decltype(body(*tx)) {
  if (tx) return body(*tx);
  decltype(body(*tx)) result = make_error(ErrorKind::internal, "not run");
  auto r = db.transaction([&](sdk::Transaction& own) -> sdk::Result<void> {
    result = body(own);
    if (!result) return result.error();
    return {};
  });
  if (!r) return r.error();
  return result;
}

sdk::Value as_bytes(const std::string& raw) { return sdk::Value(sdk::Bytes(raw.begin(), raw.end())); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

sdk::Result<void> Vault::put(sdk::Transaction* tx, std::string_view owner, std::string_view app, std::string_view name,
                             std::string_view value) {
  return in(db_, tx, [&](sdk::Transaction& t) -> sdk::Result<void> {
    auto envelope = keyring_.seal(app, owner, name, value, &t);
    if (!envelope) return envelope.error();
    std::string id = Keyring::envelope_key_id(*envelope);
    auto r = t.execute(
        "INSERT INTO sealed_values (app_id, owner, name, key_id, envelope, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (app_id, owner, name) DO UPDATE SET key_id = excluded.key_id, envelope = excluded.envelope, "
        "updated_at = excluded.updated_at",
        {std::string(app), std::string(owner), std::string(name), id, as_bytes(*envelope), now_ms()});
    if (!r) return r.error();
    return {};
  });
}

sdk::Result<std::optional<std::string>> Vault::get(sdk::Transaction* tx, std::string_view owner, std::string_view app,
                                                   std::string_view name) {
  const std::string sql = "SELECT envelope FROM sealed_values WHERE app_id = ? AND owner = ? AND name = ?";
  sdk::Params params{std::string(app), std::string(owner), std::string(name)};
  auto rows = tx ? tx->query(sql, params) : db_.query(sql, params);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<std::string>();
  const auto& cell = rows->rows[0][0];
  std::string envelope = cell.is_bytes() ? std::string(cell.as_bytes().begin(), cell.as_bytes().end()) : cell.string_or("");
  auto plain = keyring_.open_sealed(app, owner, name, envelope);
  if (!plain) return plain.error();
  return std::optional<std::string>(std::move(*plain));
}

sdk::Result<bool> Vault::remove(sdk::Transaction* tx, std::string_view owner, std::string_view app,
                                std::string_view name) {
  const std::string sql = "DELETE FROM sealed_values WHERE app_id = ? AND owner = ? AND name = ?";
  sdk::Params params{std::string(app), std::string(owner), std::string(name)};
  auto n = tx ? tx->execute(sql, params) : db_.execute(sql, params);
  if (!n) return n.error();
  return *n > 0;
}

sdk::Result<std::vector<Vault::Entry>> Vault::list(std::string_view owner, std::string_view app, std::string_view after,
                                                   std::int64_t limit) {
  auto rows = db_.query(
      "SELECT name, updated_at FROM sealed_values WHERE app_id = ? AND owner = ? AND name > ? ORDER BY name LIMIT ?",
      {std::string(app), std::string(owner), std::string(after), limit});
  if (!rows) return rows.error();
  std::vector<Entry> out;
  for (const auto& row : rows->rows) out.push_back({row[0].as_string(), row[1].as_int()});
  return out;
}

sdk::Result<std::int64_t> Vault::count_not_under(const std::string& active) {
  auto rows = db_.query("SELECT count(*) FROM sealed_values WHERE key_id <> ?", {active});
  if (!rows) return rows.error();
  return rows->rows[0][0].as_int();
}

sdk::Result<std::int64_t> Vault::reseal_batch(const std::string& active, std::int64_t batch) {
  std::int64_t done = 0;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto rows = tx.query(
        "SELECT app_id, owner, name, key_id, envelope FROM sealed_values WHERE key_id <> ? ORDER BY app_id, owner, name "
        "LIMIT ?",
        {active, batch});
    if (!rows) return rows.error();
    for (const auto& row : rows->rows) {
      const std::string app = row[0].as_string(), owner = row[1].as_string(), name = row[2].as_string();
      const auto& cell = row[4];
      std::string envelope =
          cell.is_bytes() ? std::string(cell.as_bytes().begin(), cell.as_bytes().end()) : cell.string_or("");
      auto plain = keyring_.open_sealed(app, owner, name, envelope);
      if (!plain) return plain.error();
      auto resealed = keyring_.seal_with(active, app, owner, name, *plain);
      if (!resealed) return resealed.error();
      auto n = tx.execute(
          "UPDATE sealed_values SET key_id = ?, envelope = ? WHERE app_id = ? AND owner = ? AND name = ? AND key_id = ?",
          {active, as_bytes(*resealed), app, owner, name, row[3].as_string()});
      if (!n) return n.error();
      done += *n;
    }
    return {};
  });
  if (!r) return r.error();
  return done;
}

}  // namespace picloud::kernel::keyring
