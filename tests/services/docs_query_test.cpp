// Sorted finds and their pages, on both databases: find_page's keyset
// cursors (every order, refusals, stability under concurrent inserts), the
// bracket-split plan against a reference ordering, the plans themselves
// (EXPLAIN: indexed shapes read the path's index, in order), and the limit
// on a value an index can hold.
#include <algorithm>
#include <random>
#include <set>

#include "../../plugins/docs/docs_plan.hpp"
#include "service_support.hpp"

using namespace picloud;
using namespace picloud::test;

namespace {

using V = sdk::Value;

// One instance per backend for this file's tests (each uses its own app).
Instance& query_instance(Backend backend) {
  static std::map<Backend, std::unique_ptr<Instance>> instances;
  auto& slot = instances[backend];
  if (!slot) {
    slot = std::make_unique<Instance>(
        backend, std::map<std::string, std::string>{
                     {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
                     {"PICLOUD_PLUGINS_ENABLED", "docs"},
                     {"PICLOUD_DOCS_MAX_DOCUMENT_BYTES", "65536"},
                     {"PICLOUD_SCRIPTING_TIMEOUT_MS", "5000"},
                 });
    slot->cast_owner();
  }
  return *slot;
}

const char* kDriver = R"(
void handle(request@ req, response@ res) {
  json a = req.json();
  docs::Collection@ c = docs::collection(a.get_string("c", "things"));
  string op = a.get_string("op");
  json r;
  if (op == "create") r = c.create(a["data"], a.get_string("id"));
  else if (op == "update") r = c.update(a.get_string("id"), a["data"]);
  else if (op == "find") r = c.find(a["filter"], a["options"]);
  else if (op == "find_page") r = c.find_page(a["filter"], a["options"]);
  else throw("unknown op " + op);
  res.json(r);
})";

std::string driven_app(Instance& pc, const std::string& slug) {
  std::string id = make_app(pc, slug);
  save_script(pc, slug, "drive", kDriver);
  bind_route(pc, slug, R"({"script":"drive","path":"/docs","methods":["POST"]})");
  return id;
}

V ok(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive_at(pc, slug, "/docs", args);
  EXPECT_EQ(r.status, 200) << sdk::to_json(args) << " -> " << r.body;
  return r.json;
}

std::string refused(Instance& pc, const std::string& slug, const V& args) {
  auto r = drive_at(pc, slug, "/docs", args);
  EXPECT_EQ(r.status, 502) << sdk::to_json(args) << " -> " << r.body;
  return r.error();
}

void create(Instance& pc, const std::string& slug, const std::string& c, const std::string& id, const V& data) {
  ok(pc, slug, V::object({{"op", "create"}, {"c", c}, {"id", id}, {"data", data}}));
}

void make_index(Instance& pc, const std::string& slug, const std::string& c, const std::string& path) {
  auto r = pc.post("/apps/" + slug + "/docs/" + c + "/indexes", pc.owner_key, R"({"path":")" + path + "\"}");
  ASSERT_EQ(r.status, 201) << r.body;
}

std::vector<std::string> ids_of(const V& envelopes) {
  std::vector<std::string> out;
  for (const auto& e : envelopes.as_array()) out.push_back(e["id"].string_or(""));
  return out;
}

// Every item of the query, a page of `size` at a time through find_page.
std::vector<std::string> walk(Instance& pc, const std::string& slug, const std::string& c, const V& filter,
                              const V& sort, int size) {
  std::vector<std::string> out;
  V cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    V options = V::object({{"limit", size}, {"cursor", cursor}});
    if (!sort.is_null()) options.as_object()["sort"] = sort;
    V page = ok(pc, slug, V::object({{"op", "find_page"}, {"c", c}, {"filter", filter}, {"options", options}}));
    auto ids = ids_of(page["items"]);
    out.insert(out.end(), ids.begin(), ids.end());
    cursor = page["next_cursor"];
    if (cursor.is_null()) return out;
    EXPECT_EQ(static_cast<int>(ids.size()), size) << "a page before the last is full";
  }
  ADD_FAILURE() << "more than 1000 pages";
  return out;
}

// ---- a reference of the documented order ----------------------------------------

const V* at(const V& doc, const std::string& key) {
  return doc.is_object() && doc.has(key) ? &doc[key] : nullptr;
}

int rank(const V* v) {
  if (!v || v->is_null()) return 0;
  if (v->is_number()) return 1;
  if (v->is_string()) return 2;
  if (v->is_object()) return 3;
  if (v->is_array()) return 4;
  return 5;
}

// -1, 0, 1; 2 when the documented order does not say (two arrays or two
// objects).
int compare_values(const V* a, const V* b) {
  int ra = rank(a), rb = rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a->as_number() < b->as_number() ? -1 : a->as_number() > b->as_number() ? 1 : 0;
    case 2:
      return a->as_string() < b->as_string() ? -1 : a->as_string() > b->as_string() ? 1 : 0;
    case 5:
      return static_cast<int>(a->as_bool()) - static_cast<int>(b->as_bool());
    default:
      return 2;
  }
}

// Whether `first` may come before `second` under the sort keys (path,
// descending), ties broken by id.
bool in_order(const std::pair<std::string, V>& first, const std::pair<std::string, V>& second,
              const std::vector<std::pair<std::string, bool>>& keys) {
  for (const auto& [path, descending] : keys) {
    int c = compare_values(at(first.second, path), at(second.second, path));
    if (c == 2) return true;
    if (c != 0) return descending ? c > 0 : c < 0;
  }
  return first.first < second.first;
}

class DocsQuery : public ::testing::TestWithParam<Backend> {};

// Random documents with every type at "a" and "b", random filters and
// sorts: find returns what the filter matches in the documented order, and
// find_page through pages of 1, 3 and 7 returns exactly what find does.
TEST_P(DocsQuery, SortedFindsFollowTheReferenceOrderAndPagesWalkThemExactly) {
  Instance& pc = query_instance(GetParam());
  driven_app(pc, "qsort");
  std::mt19937_64 rng(20261205);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  auto scalar = [&]() -> V {
    switch (pick(7)) {
      case 0:
        return V();
      case 1:
        return V(pick(2) == 1);
      case 2:
        return V(static_cast<std::int64_t>(pick(7) - 2));
      case 3:
        return V(pick(5) * 0.5);
      case 4:
        return V(V::array({V(static_cast<std::int64_t>(pick(4))), V("x")}));
      case 5:
        return V::object({{"k", pick(3)}});
      default: {
        const char* strings[] = {"", "a", "B", "abc", "5", "\xC3\xA9", "z"};
        return V(strings[pick(7)]);
      }
    }
  };
  std::vector<std::pair<std::string, V>> docs;
  for (int i = 0; i < 60; ++i) {
    V doc = V::object({{"n", i}});
    if (pick(8)) doc.as_object()["a"] = scalar();
    if (pick(8)) doc.as_object()["b"] = scalar();
    char id[8];
    std::snprintf(id, sizeof id, "d%03d", i);
    docs.emplace_back(id, doc);
  }
  for (const char* c : {"plain", "indexed"})
    for (const auto& [id, doc] : docs) create(pc, "qsort", c, id, doc);
  make_index(pc, "qsort", "indexed", "a");
  make_index(pc, "qsort", "indexed", "b");

  const std::vector<V> filters{
      V(),
      V::object({{"a", V::object({{"$gte", 1}})}}),
      V::object({{"a", V::object({{"$gt", 0}, {"$lte", 3}})}}),
      V::object({{"a", V::object({{"$lt", "b"}})}}),
      V::object({{"a", V::object({{"$in", V::array({1, "a", true, nullptr})}})}}),
      V::object({{"a", V::object({{"$exists", false}})}}),
      V::object({{"a", V::object({{"$ne", 1}})}, {"b", V::object({{"$gte", 0}})}}),
      V::object({{"$or", V::array({V::object({{"a", 2}}), V::object({{"a", "z"}})})}}),
      V::object({{"a", nullptr}}),
  };
  const std::vector<std::vector<std::pair<std::string, bool>>> sorts{
      {{"a", false}}, {{"a", true}}, {{"a", false}, {"b", true}}, {{"b", false}, {"a", false}}};
  for (const auto& filter : filters) {
    // The matching documents, by the same find with no sort.
    auto all = ok(pc, "qsort", V::object({{"op", "find"}, {"c", "plain"}, {"filter", filter},
                                          {"options", V::object({{"limit", 1000}})}}));
    std::set<std::string> matching;
    for (const auto& id : ids_of(all)) matching.insert(id);
    for (const auto& keys : sorts) {
      sdk::Array sort;
      for (const auto& [path, descending] : keys) sort.push_back(V((descending ? "-" : "") + path));
      for (const char* c : {"plain", "indexed"}) {
        const std::string label = std::string(c) + " " + sdk::to_json(filter) + " sort " + sdk::to_json(V(sort));
        auto found = ids_of(ok(pc, "qsort", V::object({{"op", "find"}, {"c", c}, {"filter", filter},
                                                        {"options", V::object({{"sort", V(sort)}, {"limit", 1000}})}})));
        EXPECT_EQ(std::set<std::string>(found.begin(), found.end()), matching) << label;
        for (std::size_t i = 1; i < found.size(); ++i) {
          auto doc = [&](const std::string& id) { return *std::find_if(docs.begin(), docs.end(), [&](auto& d) { return d.first == id; }); };
          EXPECT_TRUE(in_order(doc(found[i - 1]), doc(found[i]), keys)) << label << ": " << found[i - 1] << " before " << found[i];
        }
        for (int size : {1, 3, 7}) EXPECT_EQ(walk(pc, "qsort", c, filter, V(sort), size), found) << label << ", pages of " << size;
        // skip and limit take the same slice of the order.
        auto slice = ids_of(ok(pc, "qsort", V::object({{"op", "find"}, {"c", c}, {"filter", filter},
                                                        {"options", V::object({{"sort", V(sort)}, {"skip", 2}, {"limit", 3}})}})));
        std::vector<std::string> expected(found.begin() + std::min<std::size_t>(2, found.size()),
                                          found.begin() + std::min<std::size_t>(5, found.size()));
        EXPECT_EQ(slice, expected) << label << ", skip 2 limit 3";
      }
    }
  }
}

TEST_P(DocsQuery, FindPageRefusesCursorsOfOtherQueriesAndMalformedOnes) {
  Instance& pc = query_instance(GetParam());
  driven_app(pc, "qcursor");
  for (int i = 0; i < 5; ++i) create(pc, "qcursor", "t", "t" + std::to_string(i), V::object({{"v", i}}));
  auto page = [&](const V& filter, const V& options) {
    return V::object({{"op", "find_page"}, {"c", "t"}, {"filter", filter}, {"options", options}});
  };
  V first = ok(pc, "qcursor", page(V(), V::object({{"sort", "-v"}, {"limit", 2}})));
  ASSERT_EQ(ids_of(first["items"]), (std::vector<std::string>{"t4", "t3"}));
  const V cursor = first["next_cursor"];
  ASSERT_TRUE(cursor.is_string());
  // Without a sort, in id order; the last page says so.
  V unsorted = ok(pc, "qcursor", page(V(), V::object({{"limit", 3}})));
  EXPECT_EQ(ids_of(unsorted["items"]), (std::vector<std::string>{"t0", "t1", "t2"}));
  V rest = ok(pc, "qcursor", page(V(), V::object({{"limit", 3}, {"cursor", unsorted["next_cursor"]}})));
  EXPECT_EQ(ids_of(rest["items"]), (std::vector<std::string>{"t3", "t4"}));
  EXPECT_TRUE(rest["next_cursor"].is_null());

  for (const auto& other : {page(V(), V::object({{"sort", "v"}, {"cursor", cursor}})),
                            page(V::object({{"v", V::object({{"$gt", 0}})}}), V::object({{"sort", "-v"}, {"cursor", cursor}})),
                            V::object({{"op", "find_page"}, {"c", "u"}, {"options", V::object({{"sort", "-v"}, {"cursor", cursor}})}})})
    EXPECT_TRUE(contains(refused(pc, "qcursor", other), "invalid_argument: cursor belongs to another query"));
  for (const char* bad : {"x", "eyJxIjoxfQ", "", "%%"}) {
    if (!*bad) continue;
    EXPECT_TRUE(contains(refused(pc, "qcursor", page(V(), V::object({{"sort", "-v"}, {"cursor", bad}}))),
                         "invalid_argument: malformed cursor"));
  }
  EXPECT_TRUE(contains(refused(pc, "qcursor", page(V(), V::object({{"sort", "-v"}, {"skip", 1}, {"cursor", cursor}}))),
                       "skip cannot be combined with a cursor"));
  EXPECT_TRUE(contains(refused(pc, "qcursor", page(V(), V::object({{"after", 1}}))), "unknown option 'after'"));
  EXPECT_TRUE(contains(refused(pc, "qcursor", V::object({{"op", "find"}, {"c", "t"}, {"options", V::object({{"cursor", cursor}})}})),
                       "unknown option 'cursor'"));

  // The admin API's query pages the same way.
  const std::string query = "/apps/qcursor/docs/t/query";
  auto a = pc.post(query, pc.owner_key, R"({"sort":"-v","limit":2})");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["next_cursor"], cursor);
  auto b = pc.post(query, pc.owner_key, R"({"sort":"-v","limit":2,"cursor":")" + cursor.as_string() + "\"}");
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(ids_of(b.json["items"]), (std::vector<std::string>{"t2", "t1"}));
  auto c = pc.post(query, pc.owner_key, R"({"sort":"-v","limit":2,"cursor":")" + b.json["next_cursor"].as_string() + "\"}");
  EXPECT_EQ(ids_of(c.json["items"]), (std::vector<std::string>{"t0"}));
  EXPECT_TRUE(c.json["next_cursor"].is_null());
  auto wrong = pc.post(query, pc.owner_key, R"({"sort":"v","cursor":")" + cursor.as_string() + "\"}");
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_TRUE(contains(wrong.message(), "cursor belongs to another query")) << wrong.body;
  auto skipping = pc.post(query, pc.owner_key, R"({"sort":"-v","skip":1,"cursor":")" + cursor.as_string() + "\"}");
  EXPECT_EQ(skipping.status, 400) << skipping.body;
}

// Documents created between page reads, before and after the position
// reached, never make an item of those there at the start repeat or go
// missing.
TEST_P(DocsQuery, PagesStayStableUnderConcurrentInserts) {
  Instance& pc = query_instance(GetParam());
  driven_app(pc, "qstable");
  make_index(pc, "qstable", "s", "score");
  std::mt19937_64 rng(7);
  auto score = [&] { return V(static_cast<std::int64_t>(std::uniform_int_distribution<int>(0, 40)(rng))); };
  std::set<std::string> original;
  for (int i = 0; i < 120; ++i) {
    std::string id = "o" + std::to_string(1000 + i);
    create(pc, "qstable", "s", id, V::object({{"score", score()}}));
    original.insert(id);
  }
  for (const char* sort : {"score", "-score"}) {
    std::vector<std::string> seen;
    V cursor;
    int added = 0;
    for (int pages = 0; pages < 100; ++pages) {
      V options = V::object({{"sort", sort}, {"limit", 7}, {"cursor", cursor}});
      V page = ok(pc, "qstable", V::object({{"op", "find_page"}, {"c", "s"}, {"options", options}}));
      for (auto& id : ids_of(page["items"])) seen.push_back(id);
      cursor = page["next_cursor"];
      if (cursor.is_null()) break;
      // Some with ids before and after the ones there, at scores all over.
      for (int k = 0; k < 3; ++k, ++added)
        create(pc, "qstable", "s", std::string(k % 2 ? "a" : "z") + sort + std::to_string(added),
               V::object({{"score", score()}}));
    }
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size()) << sort << ": an item repeated";
    for (const auto& id : original) EXPECT_TRUE(unique.count(id)) << sort << ": " << id << " was skipped";
  }
}

// ---- plans ----------------------------------------------------------------------

struct PlanNode {
  std::string type, index, relation;
  std::vector<PlanNode> children;
};

PlanNode postgres_plan(const V& node) {
  PlanNode out{node["Node Type"].string_or(""), node["Index Name"].string_or(""), node["Relation Name"].string_or(""), {}};
  if (node["Plans"].is_array())
    for (const auto& child : node["Plans"].as_array()) out.children.push_back(postgres_plan(child));
  return out;
}

// Whether an ordered scan of an index named `prefix`... feeds its Limit with
// no full sort between them (an incremental sort of ties is fine).
bool postgres_reads_in_order(const PlanNode& n, const std::string& prefix, bool sorted_since_limit = false) {
  if (n.type == "Limit") sorted_since_limit = false;
  if (n.type == "Sort") sorted_since_limit = true;
  if ((n.type == "Index Scan" || n.type == "Index Only Scan") && n.index.rfind(prefix, 0) == 0)
    return !sorted_since_limit;
  for (const auto& c : n.children)
    if (postgres_reads_in_order(c, prefix, sorted_since_limit)) return true;
  return false;
}

bool postgres_uses(const PlanNode& n, const std::string& prefix) {
  if (n.index.rfind(prefix, 0) == 0) return true;
  for (const auto& c : n.children)
    if (postgres_uses(c, prefix)) return true;
  return false;
}

bool postgres_scans_table(const PlanNode& n) {
  if (n.type == "Seq Scan") return true;
  for (const auto& c : n.children)
    if (postgres_scans_table(c)) return true;
  return false;
}

struct Explained {
  std::string text;  // for failure messages
  bool in_order = false;  // the index read in order into its branch's LIMIT
  bool uses = false;      // the index used, and no scan of the whole table
};

Explained explain(Instance& pc, Backend backend, const std::string& app, const V& filter, const V& options,
                  const std::string& prefix, const docs::Keyset* after = nullptr) {
  docs::DocSql sql(backend == Backend::sqlite ? sdk::Dialect::sqlite : sdk::Dialect::postgres);
  auto parsed = docs::parse_find_options(options);
  EXPECT_TRUE(parsed) << parsed.error().message;
  auto query = docs::find_query(sql, filter, app, "items", *parsed, after, parsed->limit);
  EXPECT_TRUE(query) << query.error().message;
  Explained out;
  out.text = query->text + "\n";
  if (backend == Backend::sqlite) {
    auto rows = pc.db().query("EXPLAIN QUERY PLAN " + query->text, query->params);
    EXPECT_TRUE(rows) << rows.error().message;
    // id, parent, notused, detail
    std::map<std::int64_t, std::vector<std::string>> children;
    bool scan = false;
    std::int64_t ordered_parent = -1;
    for (const auto& row : rows->rows) {
      const std::string detail = row[3].string_or("");
      out.text += std::to_string(row[0].as_int()) + "<" + std::to_string(row[1].as_int()) + " " + detail + "\n";
      children[row[1].as_int()].push_back(detail);
      if (detail.rfind("SCAN d", 0) == 0) scan = true;
      if (detail.rfind("SEARCH d USING INDEX " + prefix, 0) == 0) {
        out.uses = true;
        ordered_parent = row[1].as_int();
      }
    }
    out.uses = out.uses && !scan;
    const auto& siblings = children[ordered_parent];
    out.in_order = out.uses && std::none_of(siblings.begin(), siblings.end(), [](const std::string& d) {
                     return d == "USE TEMP B-TREE FOR ORDER BY";
                   });
  } else {
    auto rows = pc.db().query("EXPLAIN (FORMAT JSON) " + query->text, query->params);
    EXPECT_TRUE(rows) << rows.error().message;
    out.text += rows->rows[0][0].string_or("");
    PlanNode plan = postgres_plan(kernel::admin::parse_stored_json(rows->rows[0][0].string_or(""))[0]["Plan"]);
    out.uses = postgres_uses(plan, prefix) && !postgres_scans_table(plan);
    out.in_order = postgres_reads_in_order(plan, prefix) && !postgres_scans_table(plan);
  }
  return out;
}

// The documented indexed shapes read the path's index: a range with a sort
// on the path and a limit in index order (no sort of the matches), equality
// and $in by index; and the same checks fail once the index is dropped.
TEST_P(DocsQuery, ExplainShowsIndexedShapesReadTheirIndex) {
  const Backend backend = GetParam();
  // A server of its own, as freshly started: plans are about the server's
  // state, not only the query.
  Instance pc(backend, {{"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
                        {"PICLOUD_PLUGINS_ENABLED", "docs"}});
  pc.cast_owner();
  const std::string app = driven_app(pc, "qplan");
  // 20,000 documents, a few with other types or nothing at "score".
  const std::string load =
      backend == Backend::sqlite
          ? "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 19999) "
            "INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at) "
            "SELECT ?, 'items', printf('d%05d', n), CASE WHEN n % 97 = 0 THEN json_object('name', 'user' || n) "
            "WHEN n % 89 = 0 THEN json_object('score', 'high', 'name', 'user' || n) "
            "ELSE json_object('score', (n * 7919) % 20000, 'name', 'user' || n, 'items', "
            "json_array(json_object('price', n % 100))) END, 0, 0 FROM i"
          : "INSERT INTO docs_documents (app_id, collection, id, data, created_at, updated_at) "
            "SELECT ?, 'items', 'd' || lpad(n::text, 5, '0'), CASE WHEN n % 97 = 0 THEN jsonb_build_object('name', "
            "'user' || n) WHEN n % 89 = 0 THEN jsonb_build_object('score', 'high', 'name', 'user' || n) "
            "ELSE jsonb_build_object('score', (n * 7919) % 20000, 'name', 'user' || n, 'items', "
            "jsonb_build_array(jsonb_build_object('price', n % 100))) END, 0, 0 FROM generate_series(0, 19999) AS n";
  ASSERT_TRUE(pc.db().execute(load, {app}));
  make_index(pc, "qplan", "items", "score");
  make_index(pc, "qplan", "items", "name");
  // This process's own connection learns of the server's new indexes when
  // a statement it runs reads the database: EXPLAIN QUERY PLAN does not, so
  // it would plan with the schema from before them.
  ASSERT_TRUE(pc.db().query("SELECT count(*) FROM docs_indexes", {}));

  const V range = V::object({{"score", V::object({{"$gte", 15000}})}});
  const V below = V::object({{"score", V::object({{"$lt", 3000}})}});
  const V names = V::object({{"name", V::object({{"$gte", "user5"}})}});
  const V equal = V::object({{"score", 1234}});
  const V in = V::object({{"score", V::object({{"$in", V::array({5, 77, 1234})}})}});
  const V sorted = V::object({{"sort", "score"}, {"limit", 20}});
  const std::string strings_index = backend == Backend::sqlite ? "docs_ix_" : "docs_is_";
  // The second page of the range: after score 15100 (SQLite: rank, value;
  // PostgreSQL: rank, string, value).
  const docs::Keyset after = backend == Backend::sqlite ? docs::Keyset{{V(1), V(15100)}, "d00000"}
                                                         : docs::Keyset{{V(1), V(), V("15100")}, "d00000"};
  auto check = [&](bool indexed) {
    const std::string state = indexed ? "with the index" : "without it";
    auto e = explain(pc, backend, app, range, sorted, "docs_ix_");
    EXPECT_EQ(e.in_order, indexed) << "range + sort + limit " << state << ":\n" << e.text;
    e = explain(pc, backend, app, range, sorted, "docs_ix_", &after);
    EXPECT_EQ(e.in_order, indexed) << "the next page " << state << ":\n" << e.text;
    e = explain(pc, backend, app, below, V::object({{"sort", "-score"}, {"limit", 20}}), "docs_ix_");
    EXPECT_EQ(e.in_order, indexed) << "range + descending sort " << state << ":\n" << e.text;
    e = explain(pc, backend, app, V(), sorted, "docs_ix_");
    EXPECT_EQ(e.in_order, indexed) << "sort + limit, no filter " << state << ":\n" << e.text;
    e = explain(pc, backend, app, equal, V(), "docs_ix_");
    EXPECT_EQ(e.uses, indexed) << "equality " << state << ":\n" << e.text;
    e = explain(pc, backend, app, in, V(), "docs_ix_");
    EXPECT_EQ(e.uses, indexed) << "$in " << state << ":\n" << e.text;
  };
  check(true);
  auto e = explain(pc, backend, app, names, V::object({{"sort", "name"}, {"limit", 20}}), strings_index);
  EXPECT_TRUE(e.in_order) << "a range of strings with a sort:\n" << e.text;
  // The same checks fail without the index (they would catch a regression).
  ASSERT_EQ(pc.call("DELETE", "/apps/qplan/docs/items/indexes?path=score", pc.owner_key).status, 204);
  ASSERT_TRUE(pc.db().query("SELECT count(*) FROM docs_indexes", {}));  // as above: the schema without it
  check(false);
}

// ---- values too large for an index ----------------------------------------------

TEST_P(DocsQuery, ValuesTooLargeForAnIndexAreRefusedAlikeOnBothDatabases) {
  Instance& pc = query_instance(GetParam());
  driven_app(pc, "qlarge");
  const std::string big(2100, 'x');
  create(pc, "qlarge", "posts", "p1", V::object({{"title", "short"}, {"body", big}}));
  create(pc, "qlarge", "posts", "p2", V::object({{"title", big}}));
  // An index over a document already holding one: refused, naming it, and nothing is left behind.
  auto r = pc.post("/apps/qlarge/docs/posts/indexes", pc.owner_key, R"({"path":"title"})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_TRUE(contains(r.message(), "document 'p2' of 'posts' holds a value at 'title' that counts 2102 bytes"))
      << r.body;
  EXPECT_EQ(pc.get("/apps/qlarge/docs/posts/indexes", pc.owner_key).json["items"].size(), 0u);
  ok(pc, "qlarge", V::object({{"op", "update"}, {"c", "posts"}, {"id", "p2"}, {"data", V::object({{"title", "t"}})}}));
  make_index(pc, "qlarge", "posts", "title");
  // Writes: refused with the path and the limit; large values elsewhere are fine.
  std::string error = refused(pc, "qlarge", V::object({{"op", "create"}, {"c", "posts"}, {"data", V::object({{"title", big}})}}));
  EXPECT_TRUE(contains(error, "invalid_argument: the value at 'title' counts 2102 bytes; 'posts' has an index on "
                              "'title', whose values take at most 2000"))
      << error;
  EXPECT_EQ(ok(pc, "qlarge", V::object({{"op", "update"}, {"c", "posts"}, {"id", "p1"},
                                       {"data", V::object({{"title", std::string(1000, 'y')}, {"body", big}})}})),
            V(true));  // a 1,000-byte title is within the limit
  // Arrays count their elements: 200 small numbers are 401 bytes of text.
  sdk::Array numbers(200, V(1));
  error = refused(pc, "qlarge", V::object({{"op", "create"}, {"c", "posts"}, {"data", V::object({{"title", V(numbers)}})}}));
  EXPECT_TRUE(contains(error, "the value at 'title' counts 3601 bytes")) << error;
  create(pc, "qlarge", "posts", "p3", V::object({{"title", std::string(1990, 'z')}}));
}

// ---- builds a stop interrupted ----------------------------------------------------

// A server stopped during a concurrent build leaves the index invalid and its
// row listed: the next server to start removes both, and the index can be
// made again. Only PostgreSQL builds concurrently.
TEST_P(DocsQuery, AnIndexBuildAStopInterruptedIsRemovedAtTheNextStart) {
  if (GetParam() != Backend::postgres) GTEST_SKIP() << "SQLite builds inside a transaction";
  const std::map<std::string, std::string> env{
      {"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
      {"PICLOUD_PLUGINS_ENABLED", "docs"}};
  Instance first(GetParam(), env);
  first.cast_owner();
  const std::string app = driven_app(first, "qhalf");
  create(first, "qhalf", "c", "a", V::object({{"k", 1}}));
  create(first, "qhalf", "c", "b", V::object({{"k", 1}}));
  make_index(first, "qhalf", "c", "k");
  auto named = first.db().query("SELECT index_name FROM docs_indexes WHERE app_id = ?", {app});
  ASSERT_TRUE(named && named->size() == 1);
  const std::string suffix = named->rows[0][0].as_string().substr(8);
  // What a stop during the build leaves: the row, and an invalid index of its
  // name (a unique build over duplicates fails the same way half way).
  ASSERT_TRUE(first.db().execute("DROP INDEX docs_ix_" + suffix));
  EXPECT_FALSE(first.db().execute("CREATE UNIQUE INDEX CONCURRENTLY docs_ix_" + suffix +
                                  " ON docs_documents ((data->'k')) WHERE app_id = '" + app + "'"));
  auto invalid = [&](Instance& pc) {
    auto rows = pc.db().query(
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE NOT i.indisvalid AND c.relname = ?",
        {"docs_ix_" + suffix});
    return rows ? rows->rows[0][0].as_int() : -1;
  };
  ASSERT_EQ(invalid(first), 1);

  Instance second(GetParam(), {{"PICLOUD_PLUGINS_SEARCH_PATH", builtin_plugin_dir() + ":" + test_plugin_dir()},
                               {"PICLOUD_PLUGINS_ENABLED", "docs"},
                               {"PICLOUD_DATABASE_URL", first.database_url()}});
  EXPECT_EQ(invalid(second), 0);
  auto left = second.db().query("SELECT count(*) FROM pg_class WHERE relname IN (?, ?, ?)",
                                {"docs_ix_" + suffix, "docs_it_" + suffix, "docs_is_" + suffix});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->rows[0][0].as_int(), 0);
  EXPECT_EQ(first.get("/apps/qhalf/docs/c/indexes", first.owner_key).json["items"].size(), 0u);
  make_index(first, "qhalf", "c", "k");
}

INSTANTIATE_TEST_SUITE_P(Backends, DocsQuery, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
