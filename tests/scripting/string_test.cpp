// The script `string` type and its global functions (scripting/stdlib/
// string.cpp) through the real engine: every member the AngelScript manual
// documents behaves as it says, bad positions and options are errors, and
// formatting and parsing round-trip.
#include <string>

#include "harness.hpp"

namespace picloud::test {
namespace {

using StringType = ScriptTest;

TEST_F(StringType, LiteralsCopiesAndComparison) {
  EXPECT_EQ(run(R"AS(string a = "abc"; string b = a; b += "d"; string c;
                   res.text(a + "|" + b + "|" + c.isEmpty() + "|" + (a == "abc") + "|" + (a != b) + "|" +
                            (a < b) + "|" + ("b" > "abc") + "|" + a.length() + "|" + "".length());)AS"),
            "abc|abcd|true|true|true|true|true|3|0");
}

TEST_F(StringType, EqualLiteralsInTwoScriptsStayIndependent) {
  EXPECT_EQ(run(R"AS(string a = "same"; a += "!"; string b = "same"; res.text(a + b);)AS"), "same!same");
  EXPECT_EQ(run(R"AS(string b = "same"; res.text(b);)AS"), "same");
}

TEST_F(StringType, EmbeddedZeroBytesAreKept) {
  EXPECT_EQ(run(R"AS(string s = "a\x00b"; res.text("" + s.length() + (s[1] == 0));)AS"), "3true");
}

TEST_F(StringType, NumbersAndBoolsConcatenate) {
  EXPECT_EQ(run(R"AS(int64 big = -9223372036854775807 - 1; uint64 u = 0xFFFFFFFFFFFFFFFF;
                   res.text("" + 1 + " " + 1.5 + " " + 1e6 + " " + 0.1f + " " + big + " " + u + " " + true + " " +
                            false + " " + (2.0 / 3) + " " + (7 + "x") + " " + (1.25 + "y"));)AS"),
            "1 1.5 1e+06 0.1 -9223372036854775808 18446744073709551615 true false 0.666667 7x 1.25y");
}

TEST_F(StringType, AssignAndAppendValues) {
  EXPECT_EQ(run(R"AS(string s = 42; string t; t = 2.5; string u = true; s += -1; s += 0.5; s += false;
                   res.text(s + "|" + t + "|" + u);)AS"),
            "42-10.5false|2.5|true");
}

TEST_F(StringType, IndexReadsAndWritesBytes) {
  EXPECT_EQ(run(R"AS(string s = "abc"; s[0] = 65; const string c = s; res.text(s + c[2]);)AS"), "Abc99");
}

TEST_F(StringType, IndexOutOfRangeIsACatchableError) {
  EXPECT_EQ(caught("string s = \"abc\"; uint8 b = s[3];"), "caught: Out of range");
  EXPECT_EQ(caught("string s; s[0] = 1;"), "caught: Out of range");
}

TEST_F(StringType, ResizeSubstr) {
  EXPECT_EQ(run(R"AS(string s = "hello world"; string t = s; t.resize(4); string u = s; u.resize(13);
                   res.text(t + "|" + u.length() + "|" + s.substr(6) + "|" + s.substr(0, 5) + "|" + s.substr(6, 100) +
                            "|" + s.substr(11) + "|" + s.substr(99) + "|" + s.substr(3, 0) + "|" + s.substr());)AS"),
            "hell|13|world|hello|world||||hello world");
}

TEST_F(StringType, Finding) {
  EXPECT_EQ(run(R"AS(string s = "abcabc";
                   res.text("" + s.findFirst("bc") + s.findFirst("bc", 2) + s.findFirst("x") + s.findFirst("", 6) +
                            "," + s.findLast("bc") + s.findLast("bc", 3) + s.findLast("x") +
                            "," + s.findFirstOf("cx") + s.findFirstOf("cx", 3) + s.findFirstNotOf("ab") +
                            s.findFirstNotOf("abc") +
                            "," + s.findLastOf("a") + s.findLastOf("a", 2) + s.findLastNotOf("c") +
                            s.findLastNotOf("abc"));)AS"),
            "14-16,41-1,252-1,304-1");
}

TEST_F(StringType, InsertAndErase) {
  EXPECT_EQ(run(R"AS(string s = "hd"; s.insert(1, "ello worl"); s.insert(0, ">"); s.insert(s.length(), "!");
                   string t = s; t.erase(1, 6); string u = s; u.erase(4); string v = s; v.erase(v.length());
                   res.text(s + "|" + t + "|" + u + "|" + v);)AS"),
            ">hello world!|>world!|>hel|>hello world!");
}

TEST_F(StringType, InsertOrErasePastTheEndIsAnError) {
  EXPECT_EQ(caught("string s = \"abc\"; s.insert(4, \"x\");"), "caught: insert at 4 is past the end (length 3)");
  EXPECT_EQ(caught("string s = \"abc\"; s.erase(5);"), "caught: erase at 5 is past the end (length 3)");
}

TEST_F(StringType, FormatInt) {
  EXPECT_EQ(run(R"AS(res.text(formatInt(42) + "|" + formatInt(-42, "", 6) + "|" + formatInt(42, "l", 5) + "|" +
                            formatInt(-42, "0", 6) + "|" + formatInt(42, "+") + "|" + formatInt(42, " ") + "|" +
                            formatInt(255, "x") + "|" + formatInt(255, "X0", 4) + "|" + formatInt(-1, "x") + "|" +
                            formatInt(-9223372036854775807 - 1) + "|" + formatInt(7, "", 1));)AS"),
            "42|   -42|42   |-00042|+42| 42|ff|00FF|ffffffffffffffff|-9223372036854775808|7");
}

TEST_F(StringType, FormatUInt) {
  EXPECT_EQ(run(R"AS(res.text(formatUInt(0xFFFFFFFFFFFFFFFF) + "|" + formatUInt(10, "x") + "|" +
                            formatUInt(10, "X0", 3) + "|" + formatUInt(3, "+l", 3) + "|");)AS"),
            "18446744073709551615|a|00A|3  |");
}

TEST_F(StringType, FormatFloat) {
  EXPECT_EQ(run(R"AS(res.text(formatFloat(3.14159) + "|" + formatFloat(3.14159, "", 0, 2) + "|" +
                            formatFloat(-2.5, "0", 8, 1) + "|" + formatFloat(2.5, "+", 0, 1) + "|" +
                            formatFloat(1234.5, "e", 0, 2) + "|" + formatFloat(1234.5, "E", 12, 2) + "|" +
                            formatFloat(0.5, "l", 6, 1) + "|" + formatFloat(parseFloat("inf"), "0", 5) + "|" +
                            formatFloat(parseFloat("-inf")));)AS"),
            "3|3.14|-00002.5|+2.5|1.23e+03|    1.23E+03|0.5   |  inf|-inf");
}

// The add-on's formatFloat wrote 309 digits into a fixed buffer: now the text
// is exact at any size and precision.
TEST_F(StringType, FormatFloatOfHugeValuesAndPrecisions) {
  std::string body = run("res.text(formatFloat(1e308, \"\", 0, 2));");
  EXPECT_EQ(body.size(), 309u + 3u);
  EXPECT_EQ(body.substr(0, 6), "100000");
  EXPECT_EQ(body.substr(body.size() - 3), ".00");
  std::string precise = run("res.text(formatFloat(0.5, \"\", 0, 2000));");
  EXPECT_EQ(precise, "0.5" + std::string(1999, '0'));
  std::string exponent = run("res.text(formatFloat(0.5, \"e\", 0, 1500));");
  EXPECT_EQ(exponent, "5." + std::string(1500, '0') + "e-01");
}

TEST_F(StringType, UnknownFormatOptionsAreErrors) {
  EXPECT_EQ(caught("formatInt(1, \"q\");"), "caught: formatInt: unknown option 'q' (known: l 0 + space x X)");
  EXPECT_EQ(caught("formatFloat(1, \"x\");"), "caught: formatFloat: unknown option 'x' (known: l 0 + space e E)");
  EXPECT_EQ(caught("formatUInt(1, \"e\");"), "caught: formatUInt: unknown option 'e' (known: l 0 + space x X)");
}

TEST_F(StringType, ParseInt) {
  EXPECT_EQ(run(R"AS(uint n = 99; int64 a = parseInt("123abc", 10, n); uint m = 99; int64 b = parseInt("xyz", 10, m);
                   res.text("" + a + " " + n + " " + b + " " + m + " " + parseInt("-42") + " " + parseInt("+7") + " " +
                            parseInt("ff", 16) + " " + parseInt("FF", 16) + " " + parseInt("101", 2) + " " +
                            parseInt("z", 36) + " " + parseInt("9223372036854775807") + " " +
                            parseInt("99999999999999999999") + " " + parseInt("-9223372036854775808") + " " +
                            parseInt("-99999999999999999999") + " " + parseInt(" 5") + " " + parseInt("-"));)AS"),
            "123 3 0 0 -42 7 255 255 5 35 9223372036854775807 9223372036854775807 -9223372036854775808 "
            "-9223372036854775808 0 0");
}

TEST_F(StringType, ParseUInt) {
  EXPECT_EQ(run(R"AS(uint n = 9; uint64 a = parseUInt("-5", 10, n);
                   res.text("" + parseUInt("18446744073709551615") + " " + parseUInt("18446744073709551616") + " " +
                            a + " " + n + " " + parseUInt("+10", 16));)AS"),
            "18446744073709551615 18446744073709551615 0 0 16");
}

TEST_F(StringType, ParseWithABadBaseIsAnError) {
  EXPECT_EQ(caught("parseInt(\"1\", 1);"), "caught: parseInt: base 1 is not between 2 and 36");
  EXPECT_EQ(caught("parseUInt(\"1\", 37);"), "caught: parseUInt: base 37 is not between 2 and 36");
}

TEST_F(StringType, ParseFloat) {
  EXPECT_EQ(run(R"AS(uint n = 0; double a = parseFloat("2.5e3xyz", n); uint m = 9; double b = parseFloat("abc", m);
                   res.text("" + a + " " + n + " " + b + " " + m + " " + parseFloat("-0.125") + " " +
                            parseFloat("1e999") + " " + parseFloat("  7") + " " + parseFloat("0x10"));)AS"),
            "2500 5 0 0 -0.125 inf 7 16");
}

TEST_F(StringType, FormatAndParseRoundTrip) {
  EXPECT_EQ(run(R"AS(string bad;
                   for (int64 v = -1000000; v <= 1000000; v += 99991) {
                     if (parseInt(formatInt(v)) != v) bad += formatInt(v) + " ";
                     if (v >= 0 && parseInt(formatInt(v, "x"), 16) != v) bad += "x" + formatInt(v) + " ";
                   }
                   for (int i = 0; i < 50; i++) {
                     double d = (i - 25) * 0.37;
                     if (parseFloat(formatFloat(d, "", 0, 17)) != d) bad += formatFloat(d, "", 0, 17) + " ";
                   }
                   res.text(bad == "" ? "ok" : bad);)AS"),
            "ok");
}

// Members called on temporaries whose result is passed straight on: the
// pattern whose failure used to end the process (see Bounds).
TEST_F(StringType, ResultsPassedOnAsArguments) {
  EXPECT_EQ(run(R"AS(string s = "ab"; res.text(s.substr(1) + formatInt(3) + (s + s).length() + ("x" + s).substr(1));)AS"),
            "b34ab");
}

}  // namespace
}  // namespace picloud::test
