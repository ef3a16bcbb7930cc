// The regular expressions SQLite and PostgreSQL share (picloud/sdk/regex.hpp):
// every refusal with its message, tables of matches, the ARE written for
// PostgreSQL, and patterns that take exponential time in a backtracking
// engine finishing in milliseconds on 100 KB. That PostgreSQL agrees is
// checked against a real server in tests/storage/regex_differential_test.cpp.
#include "picloud/sdk/regex.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace regex = picloud::sdk::regex;

namespace {

std::string refusal(std::string_view pattern, std::string_view options = "") {
  auto r = regex::compile(pattern, options);
  return r ? std::string("(accepted)") : r.error().message;
}

bool matches(std::string_view pattern, std::string_view options, std::string_view text) {
  auto r = regex::compile(pattern, options);
  EXPECT_TRUE(r) << pattern << ": " << (r ? "" : r.error().message);
  return r && regex::search(*r, text);
}

}  // namespace

TEST(Regex, RefusesWhatIsOutsideTheSubsetNamingWhatAndWhere) {
  struct Case {
    const char* pattern;
    const char* message;
  };
  const Case cases[] = {
      {"abc(?=x)", "$regex: lookahead (?=...) is not supported (at 3)"},
      {"(?!x)", "$regex: negative lookahead (?!...) is not supported (at 0)"},
      {"(?<=x)", "$regex: lookbehind (?<=...) is not supported (at 0)"},
      {"(?<!x)", "$regex: negative lookbehind (?<!...) is not supported (at 0)"},
      {"(?<n>x)", "$regex: named groups are not supported; use (...) or (?:...) (at 0)"},
      {"(?P<n>x)", "$regex: named groups are not supported; use (...) or (?:...) (at 0)"},
      {"(?>x)", "$regex: atomic groups (?>...) are not supported (at 0)"},
      {"(?#c)", "$regex: comments (?#...) are not supported (at 0)"},
      {"(?i)x", "$regex: inline flags (?i...) are not supported; use $options (at 0)"},
      {"(?)", "$regex: (? must start (?:...) (at 0)"},
      {"(a)\\1", "$regex: backreferences (\\1) are not supported (at 3)"},
      {"\\k<n>", "$regex: backreferences (\\k) are not supported (at 0)"},
      {"a\\b", "$regex: word boundaries (\\b) are not supported (at 1)"},
      {"\\B", "$regex: word boundaries (\\B) are not supported (at 0)"},
      {"\\Aa", "$regex: the anchor \\A is not supported; use ^ or $ (at 0)"},
      {"a\\Z", "$regex: the anchor \\Z is not supported; use ^ or $ (at 1)"},
      {"a\\z", "$regex: the anchor \\z is not supported; use ^ or $ (at 1)"},
      {"\\p{L}", "$regex: Unicode properties (\\p{...}) are not supported (at 0)"},
      {"\\x41", "$regex: the escape \\x is not supported; write the character itself (at 0)"},
      {"\\u0041", "$regex: the escape \\u is not supported; write the character itself (at 0)"},
      {"\\0", "$regex: the escape \\0 is not supported; write the character itself (at 0)"},
      {"\\q",
       "$regex: unknown escape \\q (only punctuation, \\n \\t \\r \\f \\v and \\d \\w \\s \\D \\W \\S may follow \\) "
       "(at 0)"},
      {"\\é", "$regex: unknown escape \\é (only punctuation, \\n \\t \\r \\f \\v and \\d \\w \\s \\D \\W \\S may follow \\) (at 0)"},
      {"[\\b]", "$regex: unknown escape \\b (only punctuation, \\n \\t \\r \\f \\v and \\d \\w \\s \\D \\W \\S may follow \\) (at 1)"},
      {"ab\\", "$regex: the pattern ends with a lone \\ (at 2)"},
      {"a*?", "$regex: lazy quantifiers (*?) are not supported (at 2)"},
      {"a{2,3}?", "$regex: lazy quantifiers ({2,3}?) are not supported (at 6)"},
      {"a++", "$regex: possessive quantifiers (++) are not supported (at 2)"},
      {"a**", "$regex: a quantifier cannot follow another quantifier (at 2)"},
      {"a{2}{3}", "$regex: a quantifier cannot follow another quantifier (at 4)"},
      {"*a", "$regex: the quantifier * has nothing to repeat (at 0)"},
      {"a|+", "$regex: the quantifier + has nothing to repeat (at 2)"},
      {"{2}", "$regex: the quantifier { has nothing to repeat (at 0)"},
      {"^*", "$regex: ^ and $ cannot be repeated (at 1)"},
      {"a$?", "$regex: ^ and $ cannot be repeated (at 2)"},
      {"a{", "$regex: { starts a repetition {n}, {n,} or {n,m}; write \\{ for a literal { (at 1)"},
      {"a{,3}", "$regex: { starts a repetition {n}, {n,} or {n,m}; write \\{ for a literal { (at 1)"},
      {"a{1,x}", "$regex: { starts a repetition {n}, {n,} or {n,m}; write \\{ for a literal { (at 1)"},
      {"a{256}", "$regex: a repetition count is at most 255 (at 1)"},
      {"a{1,99999999999}", "$regex: a repetition count is at most 255 (at 1)"},
      {"a{3,2}", "$regex: the repetition {n,m} has n greater than m (at 1)"},
      {"(ab", "$regex: the ( has no matching ) (at 0)"},
      {"ab)", "$regex: unmatched ) (at 2)"},
      {"[ab", "$regex: the [ has no matching ] (at 0)"},
      {"[]", "$regex: the [ has no matching ] (at 0)"},
      {"[[:alpha:]]", "$regex: POSIX classes ([:...]) are not supported (at 1)"},
      {"[[=a=]]", "$regex: POSIX classes ([=...]) are not supported (at 1)"},
      {"[a[b]", "$regex: a [ inside brackets must be escaped (\\[); nested classes are not supported (at 2)"},
      {"[a-c-e]", "$regex: - inside brackets must come first or last, or be escaped (\\-) (at 4)"},
      {"[z-a]", "$regex: the range is out of order (at 1)"},
      {"[\\d-z]", "$regex: a class cannot start a range (at 3)"},
      {"[a-\\d]", "$regex: a class cannot end a range (at 3)"},
      {"é(?=x)", "$regex: lookahead (?=...) is not supported (at 2)"},  // offsets count bytes
      {"a\xff", "$regex: the pattern is not valid UTF-8 (at 1)"},
      {"a\xc3", "$regex: the pattern is not valid UTF-8 (at 1)"},
      {"\xed\xa0\x80", "$regex: the pattern is not valid UTF-8 (at 0)"},  // a surrogate
  };
  for (const auto& c : cases) EXPECT_EQ(refusal(c.pattern), c.message) << c.pattern;
  EXPECT_EQ(refusal(std::string_view("a\0b", 3)), "$regex: U+0000 is not allowed (at 1)");
}

TEST(Regex, RefusesUnknownOptionsNamingTheLetter) {
  EXPECT_EQ(refusal("a", "x"), "$options: the option 'x' is not supported (supported: i, m, s)");
  EXPECT_EQ(refusal("a", "iu"), "$options: the option 'u' is not supported (supported: i, m, s)");
  EXPECT_EQ(refusal("a", " "), "$options: only the letters i, m and s are supported");
  EXPECT_EQ(refusal("a", "imsmi"), "(accepted)");
  EXPECT_EQ(refusal("a", ""), "(accepted)");
}

TEST(Regex, RefusesPatternsTooLongTooComplexOrTooDeep) {
  EXPECT_EQ(refusal(std::string(1024, 'a')), "(accepted)");
  EXPECT_EQ(refusal(std::string(1025, 'a')), "$regex: the pattern is 1025 bytes; at most 1024 are allowed");
  const std::string too_complex =
      "$regex: the pattern is too complex (its repetitions expand past 2048 steps); use smaller repetition counts";
  EXPECT_EQ(refusal("(a{1,200}){1,200}"), too_complex);
  EXPECT_EQ(refusal("((((a{9}){9}){9}){9})"), too_complex);
  EXPECT_EQ(refusal("[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}"), too_complex);
  EXPECT_EQ(refusal("[a-z]{0,255}[a-z]{0,255}"), "(accepted)");
  EXPECT_EQ(refusal("(ab|cd){1,200}"), "(accepted)");
  EXPECT_EQ(refusal(std::string(1024, '|')), "(accepted)");  // the most steps a pattern byte makes
  EXPECT_EQ(refusal(std::string(64, '(') + std::string(64, ')')), "(accepted)");
  EXPECT_EQ(refusal(std::string(65, '(') + std::string(65, ')')), "$regex: groups nest more than 64 deep (at 64)");
}

TEST(Regex, MatchesTable) {
  struct Case {
    const char* pattern;
    const char* options;
    const char* text;
    bool expected;
  };
  const Case cases[] = {
      // Unanchored search, like PostgreSQL's ~.
      {"", "", "", true},
      {"", "", "abc", true},
      {"b", "", "abc", true},
      {"d", "", "abc", false},
      {"^ab", "", "abc", true},
      {"^bc", "", "abc", false},
      {"bc$", "", "abc", true},
      {"ab$", "", "abc", false},
      {"^$", "", "", true},
      {"^abc$", "", "abc", true},
      {"a^b", "", "ab", false},
      // $ is the end of the text only: not before a final newline.
      {"c$", "", "abc\n", false},
      {"c$", "m", "abc\n", true},
      {"^b", "m", "a\nb", true},
      {"^b", "", "a\nb", false},
      {"a$", "m", "a\nb", true},
      {"\\n^$", "m", "a\n", true},
      // . and negated brackets do not match a newline without s; \D and \W do.
      {"a.b", "", "a\nb", false},
      {"a.b", "s", "a\nb", true},
      {"a.b", "m", "a\nb", false},
      {"a.b", "ms", "a\nb", true},
      {"a[^x]b", "", "a\nb", false},
      {"a[^x]b", "s", "a\nb", true},
      {"a\\Db", "", "a\nb", true},
      {"a\\Wb", "", "a\nb", true},
      {"a\\Sb", "s", "a\nb", false},
      {"a\\sb", "", "a\nb", true},
      {"a[\\D]b", "", "a\nb", true},
      {"a[^\\d]b", "", "a\nb", false},
      // Characters are code points.
      {"^.$", "", "é", true},
      {"^.$", "", "😀", true},
      {"^..$", "", "é", false},
      {"^[à-ÿ]+$", "", "éü", true},
      {"€{2}", "", "a€€", true},
      // Classes are ASCII.
      {"\\d", "", "٣", false},
      {"\\w", "", "é", false},
      {"\\W", "", "é", true},
      {"\\s", "", "\xc2\xa0", false},  // U+00A0
      {"^\\s+$", "", " \t\n\r\f\v", true},
      {"^\\w+$", "", "az_AZ09", true},
      // Case-insensitivity is ASCII only, in literals and brackets.
      {"ABC", "i", "xabcx", true},
      {"abc", "", "ABC", false},
      {"[a-c]+x", "i", "ABCX", true},
      {"[^a]", "i", "A", false},
      {"[^a]", "i", "b", true},
      {"é", "i", "É", false},
      {"[Z-a]", "i", "z", true},  // Z..a holds [ \ ] ^ _ ` as well
      {"[Z-a]", "i", "_", true},
      {"[Z-a]", "i", "B", false},
      // Brackets.
      {"[]a]", "", "]", true},
      {"[^]a]", "", "]", false},
      {"[a-]", "", "-", true},
      {"[-a]", "", "-", true},
      {"[a\\-z]", "", "-", true},
      {"[a\\-z]", "", "m", false},
      {"[\\]\\\\]", "", "\\", true},
      {"[\\d\\s]", "", " ", true},
      {"[.*+?]", "", "+", true},
      {"[$^]", "", "^", true},
      {"[\\^a]", "", "^", true},
      // Escapes.
      {"a\\.b", "", "a.b", true},
      {"a\\.b", "", "axb", false},
      {"\\(\\)\\[\\]\\{\\}\\*\\+\\?\\|\\^\\$\\\\\\/", "", "()[]{}*+?|^$\\/", true},
      {"\\t\\r\\f\\v", "", "\t\r\f\v", true},
      {"a}b]", "", "a}b]", true},
      // Groups, alternation, quantifiers.
      {"^(ab|cd)+$", "", "abcdab", true},
      {"^(ab|cd)+$", "", "abcda", false},
      {"^(?:a|)b$", "", "b", true},
      {"^a|b$", "", "xb", true},
      {"^a{3}$", "", "aaa", true},
      {"^a{3}$", "", "aaaa", false},
      {"^a{2,}$", "", "aaaaa", true},
      {"^a{2,}$", "", "a", false},
      {"^a{2,3}$", "", "aaaa", false},
      {"^a{0}$", "", "", true},
      {"^(a*)*$", "", "aaa", true},
      {"^(a?){3}a{3}$", "", "aaa", true},
      {"^()*$", "", "", true},
      {"^(^a|b)+$", "", "ab", true},
      {"^(a|b$)+", "", "ab", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(matches(c.pattern, c.options, c.text), c.expected)
        << "/" << c.pattern << "/" << c.options << " on \"" << c.text << "\"";
  }
}

TEST(Regex, ReadsInvalidUtf8InTheTextAsCharactersOnlyNegatedClassesMatch) {
  EXPECT_TRUE(matches("^a.b$", "", "a\xff" "b"));
  EXPECT_TRUE(matches("^a[^x]b$", "", "a\xff" "b"));
  EXPECT_TRUE(matches("^a\\Wb$", "", "a\xff" "b"));
  EXPECT_FALSE(matches("^a\\wb$", "", "a\xff" "b"));
  EXPECT_TRUE(matches("^a..b$", "", "a\xc3" "\xc3" "b"));  // two bytes, two characters
  EXPECT_FALSE(matches("é", "", "\xc3"));
}

TEST(Regex, WritesAnAreWithEveryClassSpelledOut) {
  auto are = [](std::string_view pattern, std::string_view options) {
    auto r = regex::compile(pattern, options);
    EXPECT_TRUE(r) << pattern;
    return r ? regex::to_postgres(*r) : std::string();
  };
  EXPECT_EQ(are("", ""), "");
  EXPECT_EQ(are("^ab$", ""), "^ab$");
  EXPECT_EQ(are("^ab$", "m"), "(?w)^ab$");
  EXPECT_EQ(are("ab", "i"), "[Aa][Bb]");
  EXPECT_EQ(are("a.b", ""), "a[^\\n]b");
  EXPECT_EQ(are("a.b", "s"), "a.b");
  EXPECT_EQ(are("[^a-c]", ""), "[^\\na-c]");
  EXPECT_EQ(are("[^a-c]", "s"), "[^a-c]");
  EXPECT_EQ(are("\\d\\w\\s", ""), "[0-9][0-9A-Z\\u005Fa-z][\\t-\\r\\u0020]");
  EXPECT_EQ(are("\\D", ""), "[^0-9]");
  EXPECT_EQ(are("[a-]", ""), "[\\u002Da]");
  EXPECT_EQ(are("a\\.\\{", ""), "a\\.\\{");
  EXPECT_EQ(are("(ab|c)*(?:d)+e{2,3}", ""), "(?:ab|c)*d+e{2,3}");
  EXPECT_EQ(are("(a*)*(^)?()", ""), "(?:a*)*(?:^)?");
  EXPECT_EQ(are("é\\v", ""), "é\\u000B");
}

TEST(Regex, PatternsThatBacktrackExponentiallyElsewhereFinishInMilliseconds) {
  const std::string as(100 * 1024, 'a');
  struct Case {
    const char* pattern;
    std::string text;
  };
  const Case cases[] = {
      {"(a*)*b", as},
      {"(a|aa)*c", as},
      {"(x+x+)+y", std::string(100 * 1024, 'x')},
      {"^(a+)+$", as + "!"},
      {"(.*a){12}b", as},
      {"(a|a?)+b", as},
      {"(\\w+\\s?)*$", as + "!"},
  };
  for (const auto& c : cases) {
    auto program = regex::compile(c.pattern, "");
    ASSERT_TRUE(program) << c.pattern;
    auto start = std::chrono::steady_clock::now();
    bool found = regex::search(*program, c.text);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(200)) << c.pattern;
    EXPECT_EQ(found, std::string_view(c.pattern) == "(\\w+\\s?)*$") << c.pattern;
  }
}
