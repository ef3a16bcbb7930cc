// Regular expressions that SQLite and PostgreSQL run the same way: a small,
// exactly specified subset (docs/engineering/regex.md), a parser that refuses
// everything outside it with a message naming what and where, a matcher that
// runs in time linear in the text (a Thompson NFA simulation over code
// points: no backtracking, so no pattern can take exponential time), and the
// translation to a PostgreSQL ARE with the same meaning.
//
// The kernel registers the matcher on every SQLite connection as
// picloud_regexp(pattern, options, text); a plugin compiles a filter to
// `picloud_regexp(?, ?, x)` on SQLite and to `(x COLLATE "C") ~ ?` with
// to_postgres() on PostgreSQL. Header-only and dependency-free.
//
// The subset (anything else is refused):
//   literals (any UTF-8 character), `\` + ASCII punctuation, \n \t \r \f \v
//   .  [abc] [a-z] [^...]  \d \w \s \D \W \S (ASCII, also inside brackets)
//   ^ $  ( )  (?: )  |  * + ? {n} {n,} {n,m} (n, m at most 255)
// Options: i (ASCII case-insensitive), m (^ and $ also at line breaks),
// s (. and [^...] also match a newline).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "picloud/sdk/error.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::sdk::regex {

// The SQL function the kernel registers on every SQLite connection:
// picloud_regexp(pattern, options, text) -> 1 or 0; NULL when an argument is
// NULL or the text is not text; an SQL error when the pattern is refused.
inline constexpr const char* kSqliteFunction = "picloud_regexp";
// How long one statement may take over its regular expressions: PostgreSQL
// runs such a statement under this statement_timeout; on SQLite the
// function fails with kTimeLimitError once this long has passed since the
// statement first called it (a pattern of kMaxSteps over a MiB of text
// takes seconds). The kernel's SQLite connections report that failure
// with the error code kTimeLimitCode.
inline constexpr int kTimeLimitMs = 5000;
inline constexpr const char* kTimeLimitError = "picloud_regexp: the statement's time limit for regular expressions ran out";
inline constexpr const char* kTimeLimitCode = "regex_time_limit";

inline constexpr std::size_t kMaxPatternBytes = 1024;
// PostgreSQL's own limit on a repetition count.
inline constexpr int kMaxRepeat = 255;
// The most steps a compiled pattern may have. A search visits each step at
// most once per character of text, so this bounds the worst case (a few ms
// per KiB of text). Every pattern without counted repetitions fits (a
// pattern byte compiles to at most two steps); one whose {n,m} expand past
// it ("(a{1,200}){1,200}") is refused as too complex.
inline constexpr std::size_t kMaxSteps = 2048;
// How deeply groups may nest.
inline constexpr int kMaxNesting = 64;

struct Options {
  bool ignore_case = false;  // i
  bool multiline = false;    // m
  bool dot_all = false;      // s
};

// A set of code points: sorted, disjoint, non-adjacent inclusive ranges,
// with the ASCII part also as a bitmap for speed.
struct CharSet {
  struct Range {
    char32_t lo, hi;
  };
  std::vector<Range> ranges;
  std::uint64_t ascii[2] = {0, 0};

  bool contains(char32_t c) const {
    if (c < 128) return (ascii[c >> 6] >> (c & 63)) & 1;
    auto it = std::lower_bound(ranges.begin(), ranges.end(), c, [](const Range& r, char32_t v) { return r.hi < v; });
    return it != ranges.end() && it->lo <= c;
  }
};

// One step of a compiled pattern.
struct Step {
  enum class Op : std::uint8_t { set, split, jump, text_start, text_end, line_start, line_end, match };
  Op op;
  std::uint32_t x = 0;  // set: the CharSet's index; split, jump: a target
  std::uint32_t y = 0;  // split: the other target
};

// A compiled pattern: what search() runs and what to_postgres() returns.
struct Program {
  Options options;
  std::vector<Step> steps;
  std::vector<CharSet> sets;
  std::string postgres;  // the ARE, see to_postgres()
};

namespace detail {

inline constexpr char32_t kEnd = 0xFFFFFFFF;   // past the text's last character
inline constexpr char32_t kNone = 0xFFFFFFFE;  // before the text's first one
inline constexpr char32_t kMaxCode = 0x10FFFF;

// Decodes the character at `i`; an invalid byte reads as U+DC80..U+DCFF
// (one byte at a time), which no literal can match.
inline char32_t decode(std::string_view s, std::size_t i, std::size_t& len) {
  if (auto code = decode_utf8(s, i, len)) return *code;
  len = 1;
  return 0xDC00 + static_cast<unsigned char>(s[i]);
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

using Ranges = std::vector<CharSet::Range>;

inline Ranges normalize(Ranges r) {
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.lo < b.lo; });
  Ranges out;
  for (const auto& x : r) {
    if (!out.empty() && x.lo <= out.back().hi + 1)
      out.back().hi = std::max(out.back().hi, x.hi);
    else
      out.push_back(x);
  }
  return out;
}

// Everything in 0..U+10FFFF that `r` (normalized) does not hold.
inline Ranges complement(const Ranges& r) {
  Ranges out;
  char32_t next = 0;
  for (const auto& x : r) {
    if (x.lo > next) out.push_back({next, x.lo - 1});
    next = x.hi + 1;
  }
  if (next <= kMaxCode) out.push_back({next, kMaxCode});
  return out;
}

inline bool is_ascii_alnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// ASCII case folding: adds the other case of every ASCII letter in `r`.
inline Ranges fold_case(Ranges r) {
  Ranges extra;
  for (const auto& x : r) {
    for (char32_t lo : {U'a', U'A'}) {
      char32_t hi = lo + 25;
      char32_t a = std::max(x.lo, lo), b = std::min(x.hi, hi);
      if (a <= b) extra.push_back({a ^ 0x20, b ^ 0x20});
    }
  }
  r.insert(r.end(), extra.begin(), extra.end());
  return normalize(std::move(r));
}

inline void add_class(Ranges& r, char32_t letter) {
  switch (letter) {
    case 'd': r.push_back({'0', '9'}); break;
    case 'w':
      r.push_back({'0', '9'});
      r.push_back({'A', 'Z'});
      r.push_back({'_', '_'});
      r.push_back({'a', 'z'});
      break;
    case 's':
      r.push_back({' ', ' '});
      r.push_back({'\t', '\r'});  // \t \n \v \f \r
      break;
    default: {  // D W S
      Ranges positive;
      add_class(positive, letter + ('a' - 'A'));
      for (const auto& x : complement(normalize(std::move(positive)))) r.push_back(x);
    }
  }
}

// The parse tree.
struct Node {
  enum class Kind : std::uint8_t { empty, set, concat, alt, repeat, text_start, text_end } kind = Kind::empty;
  std::uint32_t set = 0;
  int min = 0, max = 0;  // repeat; max -1: unbounded
  std::vector<Node> kids;
};

class Parser {
 public:
  Parser(std::string_view pattern, Options options) : text_(pattern), options_(options) {}

  Result<Node> parse(std::vector<Ranges>& sets) {
    sets_ = &sets;
    if (text_.size() > kMaxPatternBytes)
      return fail("the pattern is " + std::to_string(text_.size()) + " bytes; at most " +
                  std::to_string(kMaxPatternBytes) + " are allowed");
    for (std::size_t i = 0; i < text_.size();) {
      std::size_t len;
      char32_t c = decode(text_, i, len);
      if (c >= 0xDC00 && c <= 0xDCFF && len == 1) return fail("the pattern is not valid UTF-8", i);
      if (c == 0) return fail("U+0000 is not allowed", i);
      chars_.push_back(c);
      offsets_.push_back(i);
      i += len;
    }
    offsets_.push_back(text_.size());
    Node root = alternation(0);
    if (!error_.empty()) return make_error(ErrorKind::invalid_argument, error_);
    if (pos_ < chars_.size()) return fail("unmatched )", offsets_[pos_]);
    return root;
  }

 private:
  Error fail(std::string what, std::size_t at = std::string::npos) {
    std::string message = "$regex: " + std::move(what);
    if (at != std::string::npos) message += " (at " + std::to_string(at) + ")";
    return make_error(ErrorKind::invalid_argument, std::move(message));
  }
  // Records the first refusal; parsing then unwinds (refuse() returns false,
  // error() an empty node).
  bool refuse(std::string what, std::size_t index) {
    if (error_.empty()) error_ = fail(std::move(what), offsets_[std::min(index, chars_.size())]).message;
    pos_ = chars_.size();
    return false;
  }
  Node error(std::string what, std::size_t index) {
    refuse(std::move(what), index);
    return Node{};
  }
  bool failed() const { return !error_.empty(); }
  bool at_end() const { return pos_ >= chars_.size(); }
  char32_t peek(std::size_t ahead = 0) const {
    return pos_ + ahead < chars_.size() ? chars_[pos_ + ahead] : kEnd;
  }

  Node set_node(Ranges r, bool negated) {
    if (options_.ignore_case) r = fold_case(std::move(r));
    r = normalize(std::move(r));
    if (negated) {
      // Without s a negated bracket never matches a newline.
      if (!options_.dot_all) r.push_back({'\n', '\n'});
      r = complement(normalize(std::move(r)));
    }
    sets_->push_back(std::move(r));
    Node n;
    n.kind = Node::Kind::set;
    n.set = static_cast<std::uint32_t>(sets_->size() - 1);
    return n;
  }

  Node alternation(int depth) {
    Node first = concatenation(depth);
    if (peek() != '|') return first;
    Node alt;
    alt.kind = Node::Kind::alt;
    alt.kids.push_back(std::move(first));
    while (!failed() && peek() == '|') {
      ++pos_;
      alt.kids.push_back(concatenation(depth));
    }
    return alt;
  }

  Node concatenation(int depth) {
    Node cat;
    cat.kind = Node::Kind::concat;
    while (!failed() && !at_end() && peek() != '|' && peek() != ')') {
      bool anchor = peek() == '^' || peek() == '$';
      Node atom_node = atom(depth);
      if (failed()) break;
      cat.kids.push_back(quantified(std::move(atom_node), anchor));
    }
    if (cat.kids.size() == 1) return std::move(cat.kids[0]);
    if (cat.kids.empty()) return Node{};
    return cat;
  }

  // Reads {n}, {n,} or {n,m} at pos_ (on the '{'); false when it is not one.
  bool bound(int& min, int& max, std::size_t& end, bool& too_big) {
    std::size_t i = pos_ + 1;
    auto number = [&](int& out) {
      std::size_t start = i;
      long value = 0;
      while (i < chars_.size() && chars_[i] >= '0' && chars_[i] <= '9') {
        value = std::min<long>(value * 10 + (chars_[i] - '0'), 100000);
        ++i;
      }
      out = static_cast<int>(value);
      return i > start;
    };
    too_big = false;
    if (!number(min)) return false;
    if (i < chars_.size() && chars_[i] == '}') {
      max = min;
    } else if (i < chars_.size() && chars_[i] == ',') {
      ++i;
      if (i < chars_.size() && chars_[i] == '}')
        max = -1;
      else if (!number(max) || i >= chars_.size() || chars_[i] != '}')
        return false;
    } else {
      return false;
    }
    end = i + 1;
    too_big = min > kMaxRepeat || max > kMaxRepeat;
    return true;
  }

  bool is_quantifier_here() {
    char32_t c = peek();
    if (c == '*' || c == '+' || c == '?') return true;
    if (c != '{') return false;
    int min, max;
    std::size_t end;
    bool too_big;
    return bound(min, max, end, too_big);
  }

  Node quantified(Node operand, bool anchor) {
    if (!is_quantifier_here()) return operand;
    std::size_t at = pos_;
    if (anchor) return error("^ and $ cannot be repeated", at);
    int min = 0, max = -1;
    char32_t c = peek();
    if (c == '*') {
      ++pos_;
    } else if (c == '+') {
      min = 1, ++pos_;
    } else if (c == '?') {
      max = 1, ++pos_;
    } else {
      std::size_t end;
      bool too_big;
      bound(min, max, end, too_big);
      if (too_big) return error("a repetition count is at most " + std::to_string(kMaxRepeat), at);
      if (max >= 0 && min > max) return error("the repetition {n,m} has n greater than m", at);
      pos_ = end;
    }
    if (peek() == '?') return error("lazy quantifiers (" + quantifier_text(at) + "?) are not supported", pos_);
    if (peek() == '+') return error("possessive quantifiers (" + quantifier_text(at) + "+) are not supported", pos_);
    if (is_quantifier_here()) return error("a quantifier cannot follow another quantifier", pos_);
    Node rep;
    rep.kind = Node::Kind::repeat;
    rep.min = min;
    rep.max = max;
    rep.kids.push_back(std::move(operand));
    return rep;
  }

  std::string quantifier_text(std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < pos_; ++i) append_utf8(out, chars_[i]);
    return out;
  }

  Node atom(int depth) {
    std::size_t at = pos_;
    char32_t c = peek();
    switch (c) {
      case '(': return group(depth);
      case '[': return bracket();
      case '.': {
        ++pos_;
        Ranges r;
        if (options_.dot_all)
          r.push_back({0, kMaxCode});
        else
          r = {{0, '\n' - 1}, {'\n' + 1, kMaxCode}};
        return set_node(std::move(r), false);
      }
      case '^': {
        ++pos_;
        Node n;
        n.kind = Node::Kind::text_start;
        return n;
      }
      case '$': {
        ++pos_;
        Node n;
        n.kind = Node::Kind::text_end;
        return n;
      }
      case '*':
      case '+':
      case '?': return error("the quantifier " + std::string(1, static_cast<char>(c)) + " has nothing to repeat", at);
      case '{': {
        if (is_quantifier_here()) return error("the quantifier { has nothing to repeat", at);
        return error("{ starts a repetition {n}, {n,} or {n,m}; write \\{ for a literal {", at);
      }
      case '\\': {
        Ranges r;
        if (!escape(r, false)) return Node{};
        return set_node(std::move(r), false);
      }
      default: ++pos_; return set_node({{c, c}}, false);
    }
  }

  Node group(int depth) {
    std::size_t at = pos_;
    if (depth >= kMaxNesting) return error("groups nest more than " + std::to_string(kMaxNesting) + " deep", at);
    ++pos_;
    if (peek() == '?') {
      char32_t k = peek(1);
      if (k == ':') {
        pos_ += 2;
      } else if (k == '=') {
        return error("lookahead (?=...) is not supported", at);
      } else if (k == '!') {
        return error("negative lookahead (?!...) is not supported", at);
      } else if (k == '<' && peek(2) == '=') {
        return error("lookbehind (?<=...) is not supported", at);
      } else if (k == '<' && peek(2) == '!') {
        return error("negative lookbehind (?<!...) is not supported", at);
      } else if (k == '<' || k == 'P' || k == '\'') {
        return error("named groups are not supported; use (...) or (?:...)", at);
      } else if (k == '>') {
        return error("atomic groups (?>...) are not supported", at);
      } else if (k == '#') {
        return error("comments (?#...) are not supported", at);
      } else if ((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || k == '-' || k == '^') {
        return error("inline flags (?" + std::string(1, static_cast<char>(k)) +
                         "...) are not supported; use $options",
                     at);
      } else {
        return error("(? must start (?:...)", at);
      }
    }
    Node inner = alternation(depth + 1);
    if (failed()) return Node{};
    if (peek() != ')') return error("the ( has no matching )", at);
    ++pos_;
    return inner;
  }

  // An escape at pos_ (on the '\'); adds its characters to `r`.
  bool escape(Ranges& r, bool in_bracket) {
    std::size_t at = pos_;
    char32_t c = peek(1);
    if (c == kEnd) return refuse("the pattern ends with a lone \\", at);
    pos_ += 2;
    switch (c) {
      case 'n': r.push_back({'\n', '\n'}); return true;
      case 't': r.push_back({'\t', '\t'}); return true;
      case 'r': r.push_back({'\r', '\r'}); return true;
      case 'f': r.push_back({'\f', '\f'}); return true;
      case 'v': r.push_back({'\v', '\v'}); return true;
      case 'd':
      case 'w':
      case 's':
      case 'D':
      case 'W':
      case 'S': add_class(r, c); return true;
      default: break;
    }
    if (c < 0x80 && c > ' ' && c != 0x7F && !is_ascii_alnum(c)) {
      r.push_back({c, c});
      return true;
    }
    std::string name = "\\";
    append_utf8(name, c);
    if (c >= '1' && c <= '9') return refuse("backreferences (" + name + ") are not supported", at);
    if (c == 'k') return refuse("backreferences (\\k) are not supported", at);
    if ((c == 'b' || c == 'B') && !in_bracket)
      return refuse("word boundaries (" + name + ") are not supported", at);
    if (c == 'A' || c == 'Z' || c == 'z' || c == 'G')
      return refuse("the anchor " + name + " is not supported; use ^ or $", at);
    if (c == 'p' || c == 'P') return refuse("Unicode properties (" + name + "{...}) are not supported", at);
    if (c == 'x' || c == 'u' || c == 'U' || c == '0' || c == 'o' || c == 'c')
      return refuse("the escape " + name + " is not supported; write the character itself", at);
    return refuse("unknown escape " + name +
                      " (only punctuation, \\n \\t \\r \\f \\v and \\d \\w \\s \\D \\W \\S may follow \\)",
                  at);
  }

  // One bracket item that stands for one character (a range end): a
  // literal or an escape of one character. kEnd when it is a class.
  bool bracket_char(char32_t& out, Ranges& r) {
    if (peek() != '\\') {
      out = peek();
      ++pos_;
      return true;
    }
    Ranges one;
    if (!escape(one, true)) return false;
    if (one.size() == 1 && one[0].lo == one[0].hi) {
      out = one[0].lo;
    } else {
      out = kEnd;
      r.insert(r.end(), one.begin(), one.end());
    }
    return true;
  }

  Node bracket() {
    std::size_t open = pos_;
    ++pos_;
    bool negated = false;
    if (peek() == '^') negated = true, ++pos_;
    Ranges r;
    bool first = true;
    for (;;) {
      if (at_end()) return error("the [ has no matching ]", open);
      std::size_t at = pos_;
      char32_t c = peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      if (c == '[') {
        char32_t k = peek(1);
        if (k == ':' || k == '.' || k == '=')
          return error("POSIX classes ([" + std::string(1, static_cast<char>(k)) + "...]) are not supported", at);
        return error("a [ inside brackets must be escaped (\\[); nested classes are not supported", at);
      }
      bool was_first = first;
      first = false;
      if (c == '-' && !was_first && peek(1) != ']')
        return error("- inside brackets must come first or last, or be escaped (\\-)", at);
      char32_t lo;
      if (!bracket_char(lo, r)) return Node{};
      if (lo == kEnd) {  // a class such as \d
        if (peek() == '-' && peek(1) != ']' && peek(1) != kEnd) return error("a class cannot start a range", pos_);
        continue;
      }
      if (peek() == '-' && peek(1) != ']' && peek(1) != kEnd) {
        std::size_t dash = pos_;
        ++pos_;
        if (peek() == '[') return error("a [ inside brackets must be escaped (\\[)", pos_);
        char32_t hi;
        if (!bracket_char(hi, r)) return Node{};
        if (hi == kEnd) return error("a class cannot end a range", dash + 1);
        if (hi < lo) return error("the range is out of order", at);
        r.push_back({lo, hi});
        continue;
      }
      r.push_back({lo, lo});
    }
    return set_node(std::move(r), negated);
  }

  std::string_view text_;
  Options options_;
  std::vector<char32_t> chars_;
  std::vector<std::size_t> offsets_;
  std::size_t pos_ = 0;
  std::string error_;
  std::vector<Ranges>* sets_ = nullptr;
};

// Steps `n` compiles to, at most kMaxSteps + 1 (saturated).
inline std::size_t size_of(const Node& n) {
  constexpr std::size_t cap = kMaxSteps + 1;
  auto sat = [](std::size_t v) { return v < cap ? v : cap; };
  switch (n.kind) {
    case Node::Kind::empty: return 0;
    case Node::Kind::set:
    case Node::Kind::text_start:
    case Node::Kind::text_end: return 1;
    case Node::Kind::concat: {
      std::size_t s = 0;
      for (const auto& k : n.kids) s = sat(s + size_of(k));
      return s;
    }
    case Node::Kind::alt: {
      std::size_t s = 2 * (n.kids.size() - 1);
      for (const auto& k : n.kids) s = sat(s + size_of(k));
      return s;
    }
    case Node::Kind::repeat: {
      std::size_t e = size_of(n.kids[0]);
      std::size_t min = static_cast<std::size_t>(n.min);
      if (n.max < 0) return min == 0 ? sat(e + 2) : sat(min * e + 1);
      return sat(min * e + static_cast<std::size_t>(n.max - n.min) * (e + 1));
    }
  }
  return cap;
}

class Emitter {
 public:
  explicit Emitter(Program& p) : p_(p) {}

  void emit(const Node& n) {
    auto& s = p_.steps;
    using Op = Step::Op;
    switch (n.kind) {
      case Node::Kind::empty: return;
      case Node::Kind::set: s.push_back({Op::set, n.set, 0}); return;
      case Node::Kind::text_start:
        s.push_back({p_.options.multiline ? Op::line_start : Op::text_start, 0, 0});
        return;
      case Node::Kind::text_end: s.push_back({p_.options.multiline ? Op::line_end : Op::text_end, 0, 0}); return;
      case Node::Kind::concat:
        for (const auto& k : n.kids) emit(k);
        return;
      case Node::Kind::alt: {
        // split L1, next; L1: a; jump end; next: split L2, next2; ... last
        std::vector<std::size_t> jumps;
        for (std::size_t i = 0; i < n.kids.size(); ++i) {
          if (i + 1 < n.kids.size()) {
            std::size_t split = s.size();
            s.push_back({Op::split, here() + 1, 0});
            emit(n.kids[i]);
            jumps.push_back(s.size());
            s.push_back({Op::jump, 0, 0});
            s[split].y = here();
          } else {
            emit(n.kids[i]);
          }
        }
        for (auto j : jumps) s[j].x = here();
        return;
      }
      case Node::Kind::repeat: {
        const Node& e = n.kids[0];
        if (n.max < 0) {
          if (n.min == 0) {  // L: split body, end; body: e; jump L; end:
            std::size_t split = s.size();
            s.push_back({Op::split, here() + 1, 0});
            emit(e);
            s.push_back({Op::jump, static_cast<std::uint32_t>(split), 0});
            s[split].y = here();
            return;
          }
          for (int i = 0; i + 1 < n.min; ++i) emit(e);
          std::uint32_t body = here();  // body: e; split body, end
          emit(e);
          s.push_back({Op::split, body, here() + 1});
          return;
        }
        for (int i = 0; i < n.min; ++i) emit(e);
        std::vector<std::size_t> splits;
        for (int i = n.min; i < n.max; ++i) {
          splits.push_back(s.size());
          s.push_back({Op::split, here() + 1, 0});
          emit(e);
        }
        for (auto sp : splits) s[sp].y = here();
        return;
      }
    }
  }

 private:
  std::uint32_t here() const { return static_cast<std::uint32_t>(p_.steps.size()); }
  Program& p_;
};

// --- PostgreSQL ---------------------------------------------------------------
// Every character class is written out as explicit code point ranges, and
// case-insensitivity is folded into them, so the ARE depends on none of
// PostgreSQL's class, locale or case rules; `.` is written only where it must
// match everything. Only the m option uses an embedded option: (?w), which
// changes ^ and $ and nothing else.

inline void pg_char(std::string& out, char32_t c, bool in_bracket) {
  if (c == '\n') {
    out += "\\n";
  } else if (c == '\t') {
    out += "\\t";
  } else if (c == '\r') {
    out += "\\r";
  } else if (c < 0x80 && is_ascii_alnum(c)) {
    out.push_back(static_cast<char>(c));
  } else if (c > ' ' && c < 0x7F) {
    if (in_bracket) {
      static const char* hex = "0123456789ABCDEF";
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    }
  } else if (c >= 0x80 && !(c >= 0xD800 && c <= 0xDFFF) && c <= kMaxCode) {
    append_utf8(out, c);
  } else {
    static const char* hex = "0123456789ABCDEF";
    bool wide = c > 0xFFFF;
    out += wide ? "\\U" : "\\u";
    for (int shift = wide ? 28 : 12; shift >= 0; shift -= 4) out.push_back(hex[(c >> shift) & 15]);
  }
}

inline void pg_ranges(std::string& out, const Ranges& r) {
  for (const auto& x : r) {
    pg_char(out, x.lo, true);
    if (x.hi == x.lo) continue;
    if (x.hi > x.lo + 1) out.push_back('-');
    pg_char(out, x.hi, true);
  }
}

// Without U+0000, which PostgreSQL text never holds.
inline Ranges without_nul(const Ranges& r) {
  Ranges out;
  for (auto x : r) {
    if (x.lo == 0) {
      if (x.hi == 0) continue;
      x.lo = 1;
    }
    out.push_back(x);
  }
  return out;
}

inline void pg_set(std::string& out, const Ranges& set) {
  Ranges r = without_nul(set);
  if (r.empty()) {
    out += "[^\\u0001-\\U0010FFFF]";  // matches nothing PostgreSQL text can hold
    return;
  }
  if (r.size() == 1 && r[0].lo == r[0].hi) {
    pg_char(out, r[0].lo, false);
    return;
  }
  if (r.back().hi == kMaxCode) {
    Ranges c = without_nul(complement(set));
    if (c.empty()) {
      out += ".";  // everything: PostgreSQL's . without newline-sensitive options
      return;
    }
    out += "[^";
    pg_ranges(out, c);
    out += "]";
    return;
  }
  out += "[";
  pg_ranges(out, r);
  out += "]";
}

inline void pg_node(std::string& out, const Node& n, const std::vector<Ranges>& sets, bool tight) {
  auto wrapped = [&](auto&& body) {
    if (!tight) return body();
    out += "(?:";
    body();
    out += ")";
  };
  switch (n.kind) {
    case Node::Kind::empty:
      if (tight) out += "(?:)";
      return;
    case Node::Kind::set: pg_set(out, sets[n.set]); return;
    case Node::Kind::text_start: out += tight ? "(?:^)" : "^"; return;
    case Node::Kind::text_end: out += tight ? "(?:$)" : "$"; return;
    case Node::Kind::concat:
      wrapped([&] {
        for (const auto& k : n.kids) pg_node(out, k, sets, k.kind == Node::Kind::alt);
      });
      return;
    case Node::Kind::alt:
      wrapped([&] {
        for (std::size_t i = 0; i < n.kids.size(); ++i) {
          if (i) out += "|";
          pg_node(out, n.kids[i], sets, false);
        }
      });
      return;
    case Node::Kind::repeat: {
      if (tight) {  // a repetition repeated: (a*)*
        out += "(?:";
        pg_node(out, n, sets, false);
        out += ")";
        return;
      }
      const Node& e = n.kids[0];
      pg_node(out, e, sets, e.kind != Node::Kind::set);
      if (n.min == 0 && n.max < 0)
        out += "*";
      else if (n.min == 1 && n.max < 0)
        out += "+";
      else if (n.min == 0 && n.max == 1)
        out += "?";
      else if (n.max < 0)
        out += "{" + std::to_string(n.min) + ",}";
      else if (n.max == n.min)
        out += "{" + std::to_string(n.min) + "}";
      else
        out += "{" + std::to_string(n.min) + "," + std::to_string(n.max) + "}";
      return;
    }
  }
}

inline CharSet make_set(const Ranges& r) {
  CharSet s;
  s.ranges = r;
  for (const auto& x : r)
    for (char32_t c = x.lo; c <= x.hi && c < 128; ++c) s.ascii[c >> 6] |= std::uint64_t{1} << (c & 63);
  return s;
}

}  // namespace detail

// The options string: any of the letters i, m and s, in any order.
inline Result<Options> parse_options(std::string_view text) {
  Options o;
  for (char c : text) {
    if (c == 'i')
      o.ignore_case = true;
    else if (c == 'm')
      o.multiline = true;
    else if (c == 's')
      o.dot_all = true;
    else if (static_cast<unsigned char>(c) > ' ' && static_cast<unsigned char>(c) < 0x7F)
      return make_error(ErrorKind::invalid_argument,
                        std::string("$options: the option '") + c + "' is not supported (supported: i, m, s)");
    else
      return make_error(ErrorKind::invalid_argument, "$options: only the letters i, m and s are supported");
  }
  return o;
}

// Compiles `pattern` with `options` ("", "i", "ms", ...); invalid_argument
// with a message such as "$regex: lookahead (?=...) is not supported (at 4)"
// (a byte offset into the pattern, counted from 0) for anything outside the
// subset.
inline Result<Program> compile(std::string_view pattern, std::string_view options) {
  auto o = parse_options(options);
  if (!o) return o.error();
  std::vector<detail::Ranges> sets;
  detail::Parser parser(pattern, *o);
  auto root = parser.parse(sets);
  if (!root) return root.error();
  if (detail::size_of(*root) > kMaxSteps)
    return make_error(ErrorKind::invalid_argument,
                      "$regex: the pattern is too complex (its repetitions expand past " + std::to_string(kMaxSteps) +
                          " steps); use smaller repetition counts");
  Program p;
  p.options = *o;
  detail::Emitter(p).emit(*root);
  p.steps.push_back({Step::Op::match, 0, 0});
  p.sets.reserve(sets.size());
  for (const auto& r : sets) p.sets.push_back(detail::make_set(r));
  if (o->multiline) p.postgres = "(?w)";
  detail::pg_node(p.postgres, *root, sets, false);
  return p;
}

// Whether the pattern matches anywhere in `text` (PostgreSQL's `~`). Time
// O(text characters x program steps), memory O(program steps); no recursion.
// `text` is read as UTF-8; a byte that is not part of a valid UTF-8
// sequence reads as one character that only `.`, [^...], \D, \W and \S match.
inline bool search(const Program& p, std::string_view text);

// search() that gives up once `deadline` has passed (checked every few
// thousand characters): nullopt then.
inline std::optional<bool> search_until(const Program& p, std::string_view text,
                                        std::chrono::steady_clock::time_point deadline);

namespace detail {

template <typename GiveUp>
std::optional<bool> search(const Program& p, std::string_view text, GiveUp give_up) {
  using Op = Step::Op;
  const std::size_t n = p.steps.size();
  // Two sparse sets of step indices (the current and next lists) and a
  // stack: a step is marked when popped and pushes at most two successors,
  // so one add() pushes at most 2n + 1 times.
  std::vector<std::uint32_t> storage(6 * n + 1);
  std::uint32_t* dense[2] = {storage.data(), storage.data() + n};
  std::uint32_t* sparse[2] = {storage.data() + 2 * n, storage.data() + 3 * n};
  std::uint32_t* stack = storage.data() + 4 * n;
  std::size_t count[2] = {0, 0};
  // Adds `start` and every step reachable from it without reading a
  // character, between `before` and `after`; true when that reaches match.
  auto add = [&](int list, std::uint32_t start, char32_t before, char32_t after) {
    std::size_t top = 0;
    stack[top++] = start;
    std::uint32_t* d = dense[list];
    std::uint32_t* sp = sparse[list];
    std::size_t& size = count[list];
    while (top > 0) {
      std::uint32_t pc = stack[--top];
      if (sp[pc] < size && d[sp[pc]] == pc) continue;
      sp[pc] = static_cast<std::uint32_t>(size);
      d[size++] = pc;
      const Step& s = p.steps[pc];
      switch (s.op) {
        case Op::set: break;
        case Op::match: return true;
        case Op::jump: stack[top++] = s.x; break;
        case Op::split:
          stack[top++] = s.y;
          stack[top++] = s.x;
          break;
        case Op::text_start:
          if (before == detail::kNone) stack[top++] = pc + 1;
          break;
        case Op::line_start:
          if (before == detail::kNone || before == '\n') stack[top++] = pc + 1;
          break;
        case Op::text_end:
          if (after == detail::kEnd) stack[top++] = pc + 1;
          break;
        case Op::line_end:
          if (after == detail::kEnd || after == '\n') stack[top++] = pc + 1;
          break;
      }
    }
    return false;
  };
  auto next_char = [&](std::size_t at, std::size_t& len) {
    if (at >= text.size()) {
      len = 0;
      return detail::kEnd;
    }
    return detail::decode(text, at, len);
  };
  std::size_t pos = 0, len = 0;
  char32_t cur = next_char(0, len);
  int list = 0;
  if (add(list, 0, detail::kNone, cur)) return true;
  for (std::size_t read = 1; cur != detail::kEnd; ++read) {
    if (read % 4096 == 0 && give_up()) return std::nullopt;
    std::size_t next_len;
    char32_t next = next_char(pos + len, next_len);
    int other = 1 - list;
    count[other] = 0;
    for (std::size_t i = 0; i < count[list]; ++i) {
      const Step& s = p.steps[dense[list][i]];
      if (s.op == Op::set && p.sets[s.x].contains(cur))
        if (add(other, dense[list][i] + 1, cur, next)) return true;
    }
    if (add(other, 0, cur, next)) return true;
    list = other;
    pos += len;
    len = next_len;
    cur = next;
  }
  return false;
}

}  // namespace detail

inline bool search(const Program& p, std::string_view text) {
  return *detail::search(p, text, [] { return false; });
}

inline std::optional<bool> search_until(const Program& p, std::string_view text,
                                        std::chrono::steady_clock::time_point deadline) {
  return detail::search(p, text, [deadline] { return std::chrono::steady_clock::now() >= deadline; });
}

// The same pattern as a PostgreSQL ARE, for `(text COLLATE "C") ~ are`; it
// matches exactly the texts search() matches.
inline const std::string& to_postgres(const Program& p) { return p.postgres; }

}  // namespace picloud::sdk::regex
