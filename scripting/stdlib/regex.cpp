// regex:: — Perl-style regular expressions on Boost.Regex, whose matcher
// keeps its backtracking state on the heap and gives up on patterns that
// explode (catastrophic backtracking becomes a script exception, not a
// crashed or stuck worker).
#include <boost/regex.hpp>

#include <angelscript/scriptarray.h>

#include <chrono>
#include <iterator>

#include "scripting/bytes.hpp"
#include "scripting/json.hpp"
#include "scripting/memory.hpp"
#include "scripting/run_state.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

constexpr std::size_t kMaxPattern = 4096;
// One call must stay short: the run's clock is only checked between
// statements. Longer texts can be processed in slices.
constexpr std::size_t kMaxText = 1 << 20;
constexpr std::size_t kMaxMatches = 100'000;

void check_text(const std::string& text) {
  if (text.size() > kMaxText) throw ScriptException("regex: text longer than 1 MiB (1048576 bytes)");
}

boost::regex compile(const std::string& pattern) {
  if (pattern.size() > kMaxPattern) throw ScriptException("regex: pattern longer than 4096 characters");
  try {
    return boost::regex(pattern, boost::regex::perl);
  } catch (const boost::regex_error& e) {
    throw ScriptException(std::string("regex: invalid pattern: ") + e.what());
  }
}

// One search is bounded by Boost's state limit, but a call may make up to
// kMaxMatches of them, each near that limit: the run's clock is read
// between matches, as it is between statements, and a run out of time ends
// as one (504).
class RunClock {
 public:
  void tick() {
    if (++matches_ % 16 != 0 || !run_ || std::chrono::steady_clock::now() <= run_->deadline) return;
    {
      memory::Unaccounted ours;
      run_->fail(RunError::timeout, "script ran longer than " + std::to_string(run_->limits->timeout_ms) +
                                        " ms (in a regex:: call)");
    }
    throw ScriptException("regex: the run's time ran out");
  }

 private:
  RunState* run_ = RunState::current();
  std::size_t matches_ = 0;
};

template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const boost::regex_error&) {
    throw ScriptException("regex: the pattern is too complex for this input");
  } catch (const std::runtime_error& e) {  // Boost reports exhausted matcher memory this way
    if (dynamic_cast<const ScriptException*>(&e)) throw;
    throw ScriptException(std::string("regex: ") + e.what());
  }
}

bool is_match(const std::string& pattern, const std::string& text) {
  check_text(text);
  auto re = compile(pattern);
  return guarded([&] { return boost::regex_search(text, re); });
}

JsonNode* find(const std::string& pattern, const std::string& text) {
  check_text(text);
  auto re = compile(pattern);
  return guarded([&] {
    boost::smatch m;
    if (!boost::regex_search(text, m, re)) return make_json().detach();
    sdk::Value groups = sdk::Value::array();
    for (std::size_t i = 1; i < m.size(); ++i) groups.push(m[i].matched ? sdk::Value(m[i].str()) : sdk::Value());
    sdk::Value out = sdk::Value::object(
        {{"match", m[0].str()}, {"index", static_cast<std::int64_t>(m.position(std::size_t{0}))}, {"groups", std::move(groups)}});
    return json_from_value(out).detach();
  });
}

CScriptArray* find_all(const std::string& pattern, const std::string& text) {
  check_text(text);
  auto re = compile(pattern);
  return guarded([&] {
    std::vector<std::string> found;
    RunClock clock;
    for (boost::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
      clock.tick();
      if (found.size() == kMaxMatches) throw ScriptException("regex: more than 100000 matches");
      found.push_back((*it)[0].str());
    }
    return make_string_array(found);
  });
}

// Appends to a string and stops (with a script error) at `limit` bytes. The
// output can be far larger than the text (50,000 matches × a 400-character
// replacement, or `$&$&…` on a long match), so it is bounded as it grows.
class BoundedOut {
 public:
  using iterator_category = std::output_iterator_tag;
  using value_type = void;
  using difference_type = std::ptrdiff_t;
  using pointer = void;
  using reference = void;
  BoundedOut(std::string& out, std::size_t limit) : out_(&out), limit_(limit) {}
  BoundedOut& operator=(char c) {
    if (out_->size() >= limit_) throw TooLarge{};
    out_->push_back(c);
    return *this;
  }
  BoundedOut& operator*() { return *this; }
  BoundedOut& operator++() { return *this; }
  BoundedOut& operator++(int) { return *this; }
  struct TooLarge {};

 private:
  std::string* out_;
  std::size_t limit_;
};

// `replacement` may use $1…$9 and $& for groups. Built here, match by match,
// rather than by boost::regex_replace: its output grows inside Boost, where a
// refused allocation left the script engine's stack unsound (the process
// aborted with a double free). The matching and formatting run with the
// run's accounting suspended but bounded by what the run could still hold;
// the result is then charged to the run.
std::string replace(const std::string& pattern, const std::string& text, const std::string& replacement) {
  check_text(text);
  auto re = compile(pattern);
  std::size_t limit = memory::room(std::size_t{16} << 20);
  // Allocated and freed with accounting suspended, whichever way this ends.
  struct Scratch {
    std::string text;
    ~Scratch() {
      memory::Unaccounted ours;
      std::string().swap(text);
    }
  } out;
  bool too_large = false;
  {
    memory::Unaccounted bounded;
    guarded([&] {
      try {
        BoundedOut sink(out.text, limit);
        std::size_t count = 0;
        auto last = text.cbegin();
        RunClock clock;
        for (boost::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
          clock.tick();
          if (++count > kMaxMatches) throw ScriptException("regex: more than 100000 matches");
          std::copy(last, (*it)[0].first, sink);
          it->format(sink, replacement, boost::format_perl);
          last = (*it)[0].second;
        }
        std::copy(last, text.cend(), sink);
      } catch (const BoundedOut::TooLarge&) {
        too_large = true;
      }
      return 0;
    });
  }
  if (too_large) {
    memory::admits(limit + 1);  // marks the budget: the run ends with its memory error
    throw ScriptException("regex: the result would be larger than " + std::to_string(limit) +
                          " bytes, all this run may still hold");
  }
  return out.text;  // the copy is the run's, charged as usual
}

CScriptArray* split(const std::string& pattern, const std::string& text) {
  check_text(text);
  auto re = compile(pattern);
  return guarded([&] {
    std::vector<std::string> parts;
    RunClock clock;
    for (boost::sregex_token_iterator it(text.begin(), text.end(), re, -1), end; it != end; ++it) {
      clock.tick();
      if (parts.size() == kMaxMatches) throw ScriptException("regex: more than 100000 parts");
      parts.push_back(*it);
    }
    return make_string_array(parts);
  });
}

void fn(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
}

}  // namespace

void register_regex(asIScriptEngine* e) {
  check_registration(e->SetDefaultNamespace("regex"), "namespace regex");
  fn(e, "bool is_match(const string &in pattern, const string &in text)", WRAP_FN(is_match));
  fn(e, "json@ find(const string &in pattern, const string &in text)", WRAP_FN(find));
  fn(e, "array<string>@ find_all(const string &in pattern, const string &in text)", WRAP_FN(find_all));
  fn(e, "string replace(const string &in pattern, const string &in text, const string &in replacement)",
     WRAP_FN(replace));
  fn(e, "array<string>@ split(const string &in pattern, const string &in text)", WRAP_FN(split));
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

const std::vector<std::string_view>& reserved_namespaces() {
  static const std::vector<std::string_view> names = {"log",    "json",  "regex", "random", "time",
                                                      "base64", "hex",   "url",   "crypto", "picloud",
                                                      "string", "array", "math"};
  return names;
}

}  // namespace picloud::scripting
