// The regular expressions of picloud/sdk/regex.hpp mean the same on both
// databases: random patterns from the whole subset, under every combination
// of options, against random texts (ASCII letters, digits, punctuation,
// whitespace, newlines and multibyte characters), each checked three ways —
// search() in process, picloud_regexp on a kernel SQLite connection, and
// PostgreSQL's `(text COLLATE "C") ~ to_postgres()`. Seeded: a failure
// prints the seed (PICLOUD_REGEX_SEED=<seed> runs that seed again).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernel/db/database.hpp"
#include "kernel/db/url.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/regex.hpp"
#include "support.hpp"

using namespace picloud;
namespace regex = picloud::sdk::regex;

namespace {

class PatternMaker {
 public:
  explicit PatternMaker(std::uint32_t seed) : rng_(seed) {}

  std::string pattern() { return alternation(0); }

  std::string text() {
    static const std::vector<std::string> pieces = {
        "a", "b", "c", "z", "A", "B", "C", "Z", "0", "1", "9", "_", "-", " ", ".", "*", "$", "^", "(", ")",
        "[", "]", "\\", "{", "}", "|", "+", "?", "/", "`", "\n", "\n", "\t", "\r", "\v", "\f", "é", "É", "ÿ",
        "€", "😀", "\xc2\xa0"};
    std::string out;
    for (int n = pick(0, 10); n > 0; --n) out += pieces[pick(0, static_cast<int>(pieces.size()) - 1)];
    return out;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(int percent) { return pick(1, 100) <= percent; }
  template <typename T>
  const T& one_of(const std::vector<T>& v) {
    return v[pick(0, static_cast<int>(v.size()) - 1)];
  }

  std::string alternation(int depth) {
    std::string out = concatenation(depth);
    while (chance(25)) out += "|" + concatenation(depth);
    return out;
  }

  std::string concatenation(int depth) {
    std::string out;
    for (int n = pick(0, 4); n > 0; --n) {
      if (chance(8)) {
        out += chance(50) ? "^" : "$";
        continue;
      }
      out += atom(depth);
      if (chance(30)) out += quantifier();
    }
    return out;
  }

  std::string quantifier() {
    switch (pick(0, 5)) {
      case 0: return "*";
      case 1: return "+";
      case 2: return "?";
      case 3: return "{" + std::to_string(pick(0, 3)) + "}";
      case 4: return "{" + std::to_string(pick(0, 2)) + ",}";
      default: {
        int n = pick(0, 2);
        return "{" + std::to_string(n) + "," + std::to_string(n + pick(0, 2)) + "}";
      }
    }
  }

  std::string atom(int depth) {
    static const std::vector<std::string> literals = {"a", "b", "c", "A", "B", "z", "0", "1", "_", "-", " ",
                                                      "é", "É", "€", "😀", "]", "}", "/", "`", "\t"};
    static const std::vector<std::string> escapes = {"\\.", "\\*", "\\\\", "\\(", "\\)", "\\[", "\\]", "\\{",
                                                     "\\}", "\\-", "\\^", "\\$", "\\|", "\\+", "\\?", "\\/",
                                                     "\\n", "\\t", "\\v", "\\f", "\\r", "\\d", "\\w", "\\s",
                                                     "\\D", "\\W", "\\S"};
    int kind = pick(0, 9);
    if (depth < 3 && kind == 0) return (chance(50) ? "(" : "(?:") + alternation(depth + 1) + ")";
    if (kind <= 3) return one_of(literals);
    if (kind <= 5) return one_of(escapes);
    if (kind == 6) return ".";
    return bracket();
  }

  std::string bracket() {
    static const std::vector<std::string> items = {
        "a", "b", "c", "A", "Z", "0", "9", "_", " ", ".", "*", "$", "é", "€", "😀", "a-c", "A-Z", "0-9", "Z-a",
        "à-ÿ", "!-/", "\\]", "\\\\", "\\-", "\\[", "\\^", "\\n", "\\t", "\\d", "\\s", "\\w", "\\D", "\\W", "\\S"};
    std::string out = "[";
    if (chance(35)) out += "^";
    if (chance(10)) out += "]";
    for (int n = pick(1, 3); n > 0; --n) out += one_of(items);
    if (chance(10)) out += "-";
    return out + "]";
  }

  std::mt19937 rng_;
};

std::string shown(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else
      out.push_back(static_cast<char>(c));
  }
  return out + "\"";
}

std::unique_ptr<kernel::db::Database> open(const std::string& url) {
  auto parsed = kernel::db::parse_database_url(url, 5);
  if (!parsed) throw std::runtime_error(parsed.error().message);
  kernel::db::DatabaseOptions options;
  options.pool_size = 1;
  auto db = kernel::db::Database::open(*parsed, options);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(*db);
}

}  // namespace

TEST(RegexDifferential, SearchSqliteAndPostgresAgreeOnRandomPatterns) {
  const char* pg_url = std::getenv("PICLOUD_TEST_POSTGRES_URL");
  if (!pg_url || !*pg_url) GTEST_SKIP() << "PICLOUD_TEST_POSTGRES_URL is not set: no PostgreSQL to compare with";
  std::uint32_t seed = static_cast<std::uint32_t>(std::random_device{}());
  if (const char* s = std::getenv("PICLOUD_REGEX_SEED")) seed = static_cast<std::uint32_t>(std::stoul(s));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (PICLOUD_REGEX_SEED=" + std::to_string(seed) + " repeats it)");

  auto pg = open(pg_url);
  test::TestDatabase sqlite_file(test::Backend::sqlite);
  auto lite = sqlite_file.open(1);
  PatternMaker maker(seed);
  const char* option_sets[] = {"", "i", "m", "s", "im", "is", "ms", "ims"};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  int cases = 0, patterns = 0, matched = 0, failures = 0;
  while (patterns < 1500 && std::chrono::steady_clock::now() < deadline && failures < 20) {
    std::string pattern = maker.pattern();
    ++patterns;
    sdk::Array texts;
    for (int i = 0; i < 12; ++i) texts.emplace_back(maker.text());
    std::string texts_json = sdk::to_json(sdk::Value(texts));
    for (const char* options : option_sets) {
      auto program = regex::compile(pattern, options);
      if (!program) {
        ADD_FAILURE() << "the generator made a refused pattern " << shown(pattern) << ": " << program.error().message;
        ++failures;
        continue;
      }
      const std::string& are = regex::to_postgres(*program);
      // The ARE spells every class out, so the database's own collation
      // (C.UTF-8 in a Debian cluster, where PostgreSQL's \w and case folding
      // are Unicode) gives the same answers as "C".
      auto pg_rows = pg->query(
          "SELECT string_agg(CASE WHEN (t COLLATE \"C\") ~ ? THEN '1' ELSE '0' END, '' ORDER BY n), "
          "string_agg(CASE WHEN t ~ ? THEN '1' ELSE '0' END, '' ORDER BY n) "
          "FROM jsonb_array_elements_text(?::jsonb) WITH ORDINALITY AS x(t, n)",
          {are, are, texts_json});
      auto lite_rows = lite->query("SELECT picloud_regexp(?, ?, value) FROM json_each(?) ORDER BY key",
                                   {pattern, std::string(options), texts_json});
      if (!pg_rows || !lite_rows) {
        ADD_FAILURE() << "pattern " << shown(pattern) << " options \"" << options << "\" ARE " << shown(are) << ": "
                      << (pg_rows ? "" : "PostgreSQL: " + pg_rows.error().message)
                      << (lite_rows ? "" : " SQLite: " + lite_rows.error().message);
        ++failures;
        continue;
      }
      std::string pg_answers = pg_rows->rows.at(0).at(0).string_or("");
      EXPECT_EQ(pg_rows->rows.at(0).at(1).string_or(""), pg_answers)
          << "the database's collation changes the answers of " << shown(are);
      for (std::size_t i = 0; i < texts.size(); ++i) {
        const std::string& text = texts[i].as_string();
        bool ours = regex::search(*program, text);
        bool theirs = i < pg_answers.size() && pg_answers[i] == '1';
        bool sqlite = lite_rows->rows.at(i).at(0).int_or(-1) == 1;
        ++cases;
        matched += ours;
        if (ours != theirs || ours != sqlite) {
          ADD_FAILURE() << "pattern " << shown(pattern) << " options \"" << options << "\" ARE " << shown(are)
                        << " text " << shown(text) << ": search " << ours << ", PostgreSQL " << theirs
                        << ", SQLite " << sqlite;
          ++failures;
        }
      }
    }
  }
  std::printf("[ regex    ] %d cases (%d patterns x 8 option sets x 12 texts), %d matches, seed %u\n", cases, patterns,
              matched, seed);
  EXPECT_GE(cases, 5000);
}

TEST(RegexDifferential, PostgresAcceptsTheLargestPatternsWeAccept) {
  const char* pg_url = std::getenv("PICLOUD_TEST_POSTGRES_URL");
  if (!pg_url || !*pg_url) GTEST_SKIP() << "PICLOUD_TEST_POSTGRES_URL is not set: no PostgreSQL to compare with";
  auto pg = open(pg_url);
  const std::string text = std::string(300, 'a') + "\nb";
  for (std::string pattern : {std::string("[a-z]{0,255}[a-z]{0,255}\\n"), std::string("(ab|cd|a){1,200}$"),
                              std::string(1024, '|'), std::string(1024, 'a'), std::string("(((a{2,3}){2,3}){2,3}){2,3}"),
                              std::string("[^\\s\\S]|[\\s\\S]{255}")}) {
    for (const char* options : {"", "ims"}) {
      auto program = regex::compile(pattern, options);
      ASSERT_TRUE(program) << pattern << ": " << program.error().message;
      auto rows = pg->query("SELECT (? COLLATE \"C\") ~ ?", {text, regex::to_postgres(*program)});
      ASSERT_TRUE(rows) << pattern << ": " << rows.error().message;
      EXPECT_EQ(rows->rows.at(0).at(0).as_bool(), regex::search(*program, text)) << pattern << " " << options;
    }
  }
}

TEST(RegexDifferential, SqliteFunctionAnswersNullForNonTextAndFailsOnARefusedPattern) {
  test::TestDatabase sqlite_file(test::Backend::sqlite);
  auto lite = sqlite_file.open(1);
  auto one = [&](const std::string& sql, const sdk::Params& params) {
    auto rows = lite->query(sql, params);
    EXPECT_TRUE(rows) << sql << ": " << (rows ? "" : rows.error().message);
    return rows ? rows->rows.at(0).at(0) : sdk::Value();
  };
  EXPECT_EQ(one("SELECT picloud_regexp('^a', 'i', 'Abc')", {}).int_or(-1), 1);
  EXPECT_EQ(one("SELECT picloud_regexp('^a', '', 'Abc')", {}).int_or(-1), 0);
  EXPECT_TRUE(one("SELECT picloud_regexp('a', '', NULL)", {}).is_null());
  EXPECT_TRUE(one("SELECT picloud_regexp('a', '', 42)", {}).is_null());
  EXPECT_TRUE(one("SELECT picloud_regexp(NULL, '', 'a')", {}).is_null());
  // One compile for many rows, the pattern bound once.
  EXPECT_EQ(one("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                "SELECT sum(picloud_regexp(?, '', 'x' || i)) FROM n",
                {"7$"})
                .int_or(-1),
            100);
  auto refused = lite->query("SELECT picloud_regexp('a(?=b)', '', 'ab')", {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, sdk::ErrorKind::internal);
  auto bad_options = lite->query("SELECT picloud_regexp('a', 'x', 'ab')", {});
  ASSERT_FALSE(bad_options);
}

// A statement spends at most regex::kTimeLimitMs in a pattern on SQLite, as
// PostgreSQL's statement_timeout bounds it there: the most complex pattern
// over a MiB of text, row after row, would otherwise take minutes.
TEST(RegexDifferential, SqliteStatementsStopWhenTheirRegexTimeRunsOut) {
  test::TestDatabase sqlite_file(test::Backend::sqlite);
  auto lite = sqlite_file.open(1);
  const std::string pattern = "(x?){255}(x?){255}(x?){255}(x?){250}y";
  ASSERT_TRUE(regex::compile(pattern, ""));
  const std::string text(1 << 20, 'x');
  const auto started = std::chrono::steady_clock::now();
  auto rows = lite->query(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) "
      "SELECT count(*) FROM n WHERE picloud_regexp(?, '', ?)",
      {pattern, text});
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(rows) << "20 rows of a MiB each cannot be searched within the limit";
  EXPECT_EQ(rows.error().code, "regex_time_limit") << rows.error().message;
  EXPECT_EQ(rows.error().message, regex::kTimeLimitError);
  EXPECT_GE(took, std::chrono::milliseconds(regex::kTimeLimitMs));
  EXPECT_LT(took, std::chrono::milliseconds(regex::kTimeLimitMs + 2000));
  // The limit is the statement's, over all its calls: patterns that each
  // run well within it, one after another, run out of it together.
  const std::string slice(50'000, 'x');
  const auto one_started = std::chrono::steady_clock::now();
  ASSERT_TRUE(lite->query("SELECT picloud_regexp(?, '', ?)", {pattern, slice}));
  const auto one = std::chrono::steady_clock::now() - one_started;
  // Rows enough for about 1.5 s per pattern, 16 patterns.
  const long rows_each = std::max<long>(1, static_cast<long>(std::chrono::milliseconds(1500) / one));
  std::string where;
  sdk::Params params;
  for (int p = 0; p < 16; ++p) {
    where += std::string(p ? " OR " : "") + "(i / " + std::to_string(rows_each) + " = " + std::to_string(p) +
             " AND picloud_regexp(?, '', ?))";
    params.push_back(pattern + std::to_string(p));  // a pattern of its own: its own call site
    params.push_back(slice);
  }
  const auto all_started = std::chrono::steady_clock::now();
  auto together = lite->query("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                                  std::to_string(16 * rows_each - 1) + ") SELECT count(*) FROM n WHERE " + where,
                              params);
  ASSERT_FALSE(together) << "16 patterns of about 1.5 s each";
  EXPECT_EQ(together.error().code, "regex_time_limit") << together.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - all_started, std::chrono::milliseconds(regex::kTimeLimitMs + 2000));
  // The connection goes on, with a fresh limit for the next statement.
  auto quick = lite->query("SELECT picloud_regexp(?, '', ?)", {pattern, std::string("xy")});
  ASSERT_TRUE(quick) << quick.error().message;
  EXPECT_EQ(quick->rows.at(0).at(0).as_int(), 1);
}
