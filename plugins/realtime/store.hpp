// Realtime's tables: the topics an app registered and the bounded buffer of
// each topic's last events (migrations/realtime).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <picloud/sdk.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace picloud::realtime {

enum class AuthMode { public_, token };
std::string_view auth_mode_name(AuthMode mode);
std::optional<AuthMode> parse_auth_mode(std::string_view name);

struct Topic {
  std::string name;
  bool external = false;
  AuthMode auth_mode = AuthMode::token;
  std::int64_t last_event_id = 0;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

struct StoredEvent {
  std::int64_t id = 0;
  std::string message;  // JSON text
  std::int64_t published_at = 0;
};

// 1 to 128 characters: letters, digits, '_', '-', '.', ':'.
sdk::Result<void> check_topic_name(std::string_view name);

class TopicStore {
 public:
  TopicStore(sdk::Database& db, int buffer_size, int max_topics_per_app)
      : db_(db), buffer_size_(buffer_size), max_topics_(max_topics_per_app) {}

  // conflict when the name is taken, invalid_argument past the app's limit.
  sdk::Result<Topic> create(std::string_view app, const Topic& topic);
  sdk::Result<Topic> create(sdk::Transaction& tx, std::string_view app, const Topic& topic);
  sdk::Result<std::vector<Topic>> list(std::string_view app);
  sdk::Result<std::vector<Topic>> list(sdk::Transaction& tx, std::string_view app);
  sdk::Result<std::optional<Topic>> find(std::string_view app, std::string_view name);
  sdk::Result<std::optional<Topic>> find(sdk::Transaction& tx, std::string_view app, std::string_view name);
  // The topic as changed; nothing when there is no such topic.
  // `also` runs in the same transaction once the change is written (to
  // announce it to the nodes with the change itself).
  using Also = std::function<sdk::Result<void>(sdk::Transaction& tx, const Topic& before, const Topic& after)>;
  sdk::Result<std::optional<Topic>> update(std::string_view app, std::string_view name, std::optional<bool> external,
                                           std::optional<AuthMode> auth_mode, const Also& also);
  sdk::Result<std::optional<Topic>> update(sdk::Transaction& tx, std::string_view app, std::string_view name,
                                           std::optional<bool> external, std::optional<AuthMode> auth_mode, const Also& also);
  // Deletes the topic and its buffered events; whether there was one.
  sdk::Result<bool> remove(std::string_view app, std::string_view name,
                           const std::function<sdk::Result<void>(sdk::Transaction&)>& also);
  sdk::Result<bool> remove(sdk::Transaction& tx, std::string_view app, std::string_view name,
                           const std::function<sdk::Result<void>(sdk::Transaction&)>& also);

  // Inside `tx`: gives the event the topic's next id and keeps it in the
  // buffer (dropping what falls out). Nothing when the topic is not one of
  // the app's.
  sdk::Result<std::optional<std::int64_t>> append(sdk::Transaction& tx, std::string_view app, std::string_view topic,
                                                  std::string_view message, std::int64_t published_at);

  // What a client resuming after `after` needs: the buffer's events in
  // (after, through] — `through` being the topic's last id as read before,
  // so all of them have committed — oldest first, and whether the buffer
  // still starts right after `after`. Plain reads, no transaction.
  struct Resume {
    std::vector<StoredEvent> events;
    bool complete = false;  // nothing between `after` and the first event was dropped
  };
  sdk::Result<Resume> resume(std::string_view app, std::string_view topic, std::int64_t after, std::int64_t through);
  // Events (after, through] of a topic, oldest first, for filling a gap.
  sdk::Result<std::vector<StoredEvent>> range(std::string_view app, std::string_view topic, std::int64_t after,
                                              std::int64_t through);

  sdk::Result<void> delete_app(sdk::Transaction& tx, std::string_view app);

 private:
  sdk::Result<void> insert(sdk::Transaction& tx, std::string_view app, const Topic& made);
  sdk::Database& db_;
  int buffer_size_;
  int max_topics_;
};

}  // namespace picloud::realtime
