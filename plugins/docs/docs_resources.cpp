#include "docs_resources.hpp"

#include "docs_paths.hpp"
#include "docs_rules.hpp"

namespace picloud::docs {
namespace {

using sdk::ErrorKind;
using sdk::make_error;
using sdk::Value;

sdk::ResourceItem item_of(const std::string& collection, const std::string& path, bool unique) {
  return {collection + "/" + path, Value::object({{"collection", collection}, {"path", path}, {"unique", unique}})};
}

}  // namespace

sdk::ResourceKind index_resources(DocStore& store) {
  sdk::ResourceKind kind;
  kind.name = "indexes";
  kind.description = "indexes on a path of a collection's documents: {collection, path, unique}";
  DocStore* docs = &store;
  kind.list = [docs](sdk::Transaction& tx, std::string_view app) -> sdk::Result<std::vector<sdk::ResourceItem>> {
    auto indexes = docs->app_indexes(tx, app);
    if (!indexes) return indexes.error();
    std::vector<sdk::ResourceItem> out;
    for (const auto& i : *indexes) out.push_back(item_of(i.collection, i.path, i.unique));
    return out;
  };
  kind.check = [](const Value& item) -> sdk::Result<sdk::ResourceItem> {
    if (!item.is_object()) return make_error(ErrorKind::invalid_argument, "an index is a table: {collection, path, unique}");
    for (const auto& [field, _] : item.as_object())
      if (field != "collection" && field != "path" && field != "unique")
        return make_error(ErrorKind::invalid_argument, "unknown field '" + field + "' (collection, path, unique)");
    if (!item["collection"].is_string()) return make_error(ErrorKind::invalid_argument, "collection: required, a name");
    if (auto ok = check_collection(item["collection"].as_string()); !ok)
      return make_error(ErrorKind::invalid_argument, "collection: " + ok.error().message);
    if (!item["path"].is_string()) return make_error(ErrorKind::invalid_argument, "path: required, a dotted path");
    auto path = parse_path(item["path"].as_string());
    if (!path) return make_error(ErrorKind::invalid_argument, "path: " + path.error().message);
    if (item.has("unique") && !item["unique"].is_bool())
      return make_error(ErrorKind::invalid_argument, "unique: must be true or false");
    return item_of(item["collection"].as_string(), path->text, item["unique"].bool_or(false));
  };
  // Only new indexes are made here. Turning an index unique or not means
  // dropping it and building it again, and on PostgreSQL the drop locks the
  // documents of every app until the deploy's transaction ends — through
  // the whole build: that is left to the admin route (or a prune), where it
  // is one short transaction.
  kind.put = [docs](sdk::Transaction& tx, std::string_view app, std::string_view, const Value& item) -> sdk::Result<void> {
    auto path = parse_path(item["path"].as_string());
    if (!path) return path.error();
    const std::string& collection = item["collection"].as_string();
    auto existing = docs->app_indexes(tx, app);
    if (!existing) return existing.error();
    for (const auto& i : *existing)
      if (i.collection == collection && i.path == path->text)
        return make_error(ErrorKind::conflict,
                          std::string("the index exists with unique = ") + (i.unique ? "true" : "false") +
                              "; a deploy does not rebuild an index: drop it first (deploy without it with --prune, "
                              "or DELETE it through the admin API), then deploy again");
    auto made = docs->create_index(tx, app, collection, *path, item["unique"].bool_or(false));
    if (!made) return made.error();
    return {};
  };
  kind.remove = [docs](sdk::Transaction& tx, std::string_view app, std::string_view key) -> sdk::Result<void> {
    auto colon = key.find('/');  // collection names hold no '/'
    if (colon == std::string_view::npos) return make_error(ErrorKind::invalid_argument, "not an index key");
    auto path = parse_path(key.substr(colon + 1));
    if (!path) return path.error();
    auto dropped = docs->drop_index(tx, app, key.substr(0, colon), *path);
    if (!dropped) return dropped.error();
    return {};
  };
  return kind;
}

}  // namespace picloud::docs
