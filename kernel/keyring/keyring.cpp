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
#include <mutex>
#include <set>
#include <sstream>

#include "kernel/admin/secrets.hpp"
#include "kernel/keyring/crypto.hpp"
#include "kernel/log.hpp"
#include "kernel/private_directory.hpp"

namespace picloud::kernel::keyring {
namespace fs = std::filesystem;
using sdk::ErrorKind;
using sdk::make_error;

namespace {

constexpr unsigned char kEnvelopeVersion = 1;
constexpr const char* kActiveKeySql = "SELECT value FROM keyring_state WHERE name = 'active_key_id'";
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

std::string mode_text(mode_t mode) {
  char m[8];
  std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode & 07777));
  return m;
}

constexpr off_t kMaxKeyFile = 64 << 10;

}  // namespace

std::string key_id(std::string_view key) { return hex(hkdf_sha256(key, "picloud keyring v1", "key id", kIdBytes)); }

sdk::Result<KeySet> read_key_file(const std::string& path) {
  // Checked on the descriptor that is read, so the file cannot be swapped
  // between the check and the read; a symbolic link is not followed.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return make_error(errno == ELOOP ? ErrorKind::invalid_argument : ErrorKind::unavailable,
                      "keyring: cannot read the key file " + path + ": " +
                          (errno == ELOOP ? std::string("it is a symbolic link; name the file itself") : std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return make_error(ErrorKind::unavailable, "keyring: cannot read the key file " + path);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " is not a regular file");
  if (st.st_uid != ::geteuid())
    return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " belongs to another user (uid " +
                                                       std::to_string(st.st_uid) + "); it must be PiCloud's own");
  if ((st.st_mode & 077) != 0)
    return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " is readable by others (mode " +
                                                       mode_text(st.st_mode) + "); make it private: chmod 600 " + path);
  if (st.st_size > kMaxKeyFile)
    return make_error(ErrorKind::invalid_argument, "keyring: the key file " + path + " is larger than 64 KiB");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  KeySet set;
  set.source = path;
  set.from_file = true;
  std::istringstream in(text);
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

sdk::Result<void> write_key_file(const std::string& path, const KeySet& keys, bool must_be_new) {
  std::string text =
      "# PiCloud master keys. Back this file up with the database: without it the\n"
      "# values sealed with these keys cannot be read. Keep it private (mode 0600).\n"
      "active " + keys.active + "\n";
  for (const auto& [id, key] : keys.keys) text += "key " + id + " " + base64(key) + "\n";
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  // A name no other writer uses: two processes never share a temporary file.
  std::string tmp = (fs::path(dir) / ("." + fs::path(path).filename().string() + ".XXXXXX")).string();
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return make_error(ErrorKind::unavailable, "keyring: cannot write in " + dir + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  // The file keeps the owner of the one it replaces (a rotation run as
  // root must not leave a key file the service cannot read).
  struct stat old {};
  if (ok && ::lstat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) && (old.st_uid != ::geteuid() || old.st_gid != ::getegid()))
    ok = ::fchown(fd, old.st_uid, old.st_gid) == 0;
  ok = ok && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  int placed = -1;
  std::string why;
  if (ok) {
    // link() refuses an existing name, so a new key file never replaces
    // one another process made meanwhile; rename() replaces atomically.
    placed = must_be_new ? ::link(tmp.c_str(), path.c_str()) : ::rename(tmp.c_str(), path.c_str());
    if (placed != 0) why = std::strerror(errno);
  } else {
    why = std::strerror(errno);
  }
  const bool existed = placed != 0 && must_be_new && errno == EEXIST;
  ::unlink(tmp.c_str());  // after link(); after rename() it is gone already
  if (existed) return make_error(ErrorKind::conflict, "keyring: " + path + " appeared meanwhile");
  if (placed != 0) return make_error(ErrorKind::unavailable, "keyring: cannot write the key file " + path + ": " + why);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

sdk::Result<KeySet> load_keys(const KeyringSettings& settings, sdk::Dialect dialect, const std::string& database_key) {
  if (!settings.key.empty()) {
    auto key = decode_key(settings.key, "PICLOUD_KEYRING_KEY");
    if (!key) return key.error();
    KeySet set;
    set.active = key_id(*key);
    set.keys[set.active] = std::move(*key);
    set.source = "the environment (PICLOUD_KEYRING_KEY)";
    return set;
  }
  struct stat st {};
  if (::lstat(settings.key_file.c_str(), &st) == 0) return read_key_file(settings.key_file);
  if (settings.key_file_explicit)
    return make_error(ErrorKind::invalid_argument, "keyring: the key file " + settings.key_file +
                                                       " ([keyring] key_file) does not exist");
  if (!database_key.empty())
    return make_error(ErrorKind::invalid_argument,
                      "keyring: the database's values are sealed with master key " + database_key +
                          ", and there is no key: restore its key file (" + settings.key_file +
                          ") from a backup, or give it in PICLOUD_KEYRING_KEY");
  if (dialect == sdk::Dialect::postgres)
    return make_error(ErrorKind::invalid_argument,
                      "keyring: on PostgreSQL the master key must be given, the same on every node: set "
                      "PICLOUD_KEYRING_KEY (openssl rand -base64 32) or [keyring] key_file");
  std::string dir = fs::path(settings.key_file).parent_path().string();
  if (auto made = make_private_directory(dir.empty() ? "." : dir, false); !made) return made.error();
  KeySet set;
  std::string key = random_bytes(kKeyBytes);
  set.active = key_id(key);
  set.keys[set.active] = std::move(key);
  set.source = settings.key_file;
  set.from_file = true;
  if (auto r = write_key_file(settings.key_file, set, /*must_be_new=*/true); !r) {
    // Another process (a second start, `picloud script run`) made it first: use theirs.
    if (r.error().kind == ErrorKind::conflict) return read_key_file(settings.key_file);
    return r.error();
  }
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
    auto rows = tx.query(kActiveKeySql);
    if (!rows) return rows.error();
    if (rows->empty()) {
      // The first start: this node's active key becomes the database's (a
      // node starting at the same moment with another key then finds it).
      auto put = tx.execute("INSERT INTO keyring_state (name, value) VALUES ('active_key_id', ?) ON CONFLICT (name) DO NOTHING",
                            {keys.active});
      if (!put) return put.error();
      rows = tx.query(kActiveKeySql);
      if (!rows) return rows.error();
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

KeySet Keyring::keys() const {
  std::shared_lock lock(mutex_);
  return keys_;
}

std::optional<Keyring::FileStamp> Keyring::stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
}

std::optional<std::string> Keyring::key(const std::string& id) const {
  std::string source;
  {
    std::shared_lock lock(mutex_);
    auto it = keys_.keys.find(id);
    if (it != keys_.keys.end()) return it->second;
    if (!keys_.from_file) return std::nullopt;
    source = keys_.source;
  }
  // A key this node has not seen: after `picloud keys rotate` the key file
  // holds it. Read it again (keys are only ever added here) — but only when
  // it changed since the last time: the id may come from anyone (the first
  // bytes of a signed URL's signature), and a stranger must not turn every
  // request into a file read under the exclusive lock.
  const auto stamp = stamp_of(source);
  if (!stamp) return std::nullopt;
  std::unique_lock lock(mutex_);
  auto it = keys_.keys.find(id);
  if (it != keys_.keys.end()) return it->second;
  // A read that failed is tried again after a while even when the file
  // looks the same: it may have failed for want of a descriptor or memory.
  const auto now = std::chrono::steady_clock::now();
  if (read_stamp_ == stamp && (!read_failed_at_ || now - *read_failed_at_ < std::chrono::seconds(1)))
    return std::nullopt;
  read_stamp_ = stamp;
  auto fresh = read_key_file(source);
  read_failed_at_.reset();
  if (!fresh) {
    read_failed_at_ = now;
    write_log(LogLevel::warn, "keyring", "the key file could not be read again", {{"error", fresh.error().message}});
    return std::nullopt;
  }
  for (auto& [fid, fkey] : fresh->keys) keys_.keys.emplace(fid, std::move(fkey));
  it = keys_.keys.find(id);
  if (it == keys_.keys.end()) return std::nullopt;
  write_log(LogLevel::info, "keyring", "a new master key was read from the key file", {{"key_id", id}});
  return it->second;
}

sdk::Result<std::string> Keyring::database_active_id(sdk::Database& db) {
  auto rows = db.query(kActiveKeySql);
  if (!rows) return rows.error();
  if (rows->empty()) return std::string();
  return rows->rows[0][0].as_string();
}

sdk::Result<std::string> Keyring::active_id(sdk::Transaction* tx) {
  // Read each time: `picloud keys rotate` changes it while nodes run.
  auto rows = tx ? tx->query(kActiveKeySql) : db_.query(kActiveKeySql);
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorKind::internal, "keyring: the database records no active key");
  std::string id = rows->rows[0][0].as_string();
  if (!key(id)) {
    write_log(LogLevel::error, "keyring", "the database's active master key is not among this node's keys",
              {{"key_id", id}, {"source", keys().source}});
    return make_error(ErrorKind::unavailable, "keyring_key_missing",
                      "the active master key " + id + " is not among this node's keys: give this node the new key file");
  }
  return id;
}

sdk::Result<std::string> Keyring::seal_with(const std::string& id, std::string_view app, std::string_view purpose,
                                            std::string_view name, std::string_view plaintext) const {
  auto master = key(id);
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
  auto master = key(id);
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
  auto master = key(*id);
  if (!master) return make_error(ErrorKind::internal, "keyring: no master key " + *id);
  return unhex(*id) + hmac_sha256(derived(*master, "sign", purpose, app), data);
}

bool Keyring::verify(std::string_view app, std::string_view purpose, std::string_view data,
                     std::string_view signature) const {
  if (signature.size() != kIdBytes + 32) return false;
  auto master = key(hex(signature.substr(0, kIdBytes)));
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
// An envelope as the database gives it back (BLOB / bytea).
std::string envelope_of(const sdk::Value& cell) {
  return cell.is_bytes() ? std::string(cell.as_bytes().begin(), cell.as_bytes().end()) : cell.string_or("");
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
        {std::string(app), std::string(owner), std::string(name), id, as_bytes(*envelope), admin::now_ms()});
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
  auto plain = keyring_.open_sealed(app, owner, name, envelope_of(rows->rows[0][0]));
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

sdk::Result<std::int64_t> Vault::reseal_batch(const std::string& active, std::int64_t batch, Position& position,
                                              std::vector<std::string>& unopened, std::int64_t& resealed) {
  std::int64_t seen = 0;
  auto r = db_.transaction([&](sdk::Transaction& tx) -> sdk::Result<void> {
    auto rows = tx.query(
        "SELECT app_id, owner, name, envelope FROM sealed_values WHERE key_id <> ? AND "
        "(app_id > ? OR (app_id = ? AND (owner > ? OR (owner = ? AND name > ?)))) "
        "ORDER BY app_id, owner, name LIMIT ?",
        {active, position.app, position.app, position.owner, position.owner, position.name, batch});
    if (!rows) return rows.error();
    for (const auto& row : rows->rows) {
      ++seen;
      const std::string app = row[0].as_string(), owner = row[1].as_string(), name = row[2].as_string();
      position = {app, owner, name};
      const auto& cell = row[3];
      auto plain = keyring_.open_sealed(app, owner, name, envelope_of(cell));
      if (!plain) {
        // Left as it is (its old key stays needed), and reported.
        unopened.push_back(owner + "/" + app + "/" + name + ": " + plain.error().message);
        continue;
      }
      auto sealed_again = keyring_.seal_with(active, app, owner, name, *plain);
      if (!sealed_again) return sealed_again.error();
      // Only if the row still holds what was read: a write that committed
      // meanwhile (sealed under the new key already) is never overwritten.
      auto n = tx.execute(
          "UPDATE sealed_values SET key_id = ?, envelope = ? WHERE app_id = ? AND owner = ? AND name = ? AND envelope = ?",
          {active, as_bytes(*sealed_again), app, owner, name, cell});
      if (!n) return n.error();
      resealed += *n;
    }
    return {};
  });
  if (!r) return r.error();
  return seen;
}

}  // namespace picloud::kernel::keyring
