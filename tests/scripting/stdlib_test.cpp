// The standard library through the real engine (log, regex, random, time,
// base64, hex, url, crypto) and the request/response objects handle() gets.
#include <chrono>
#include <regex>
#include <set>
#include <string>

#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::LogLevel;
using scripting::RunError;

class StdlibTest : public ScriptTest {
 protected:

  // Runs a whole handle() body and returns the result (logs included).
  scripting::RunResult run_full(const std::string& statements, const sdk::HttpRequest& request = get()) {
    static int counter = 0;
    return run_script(*engine_, source_, "void handle(request@ req, response@ res) {\n" + statements + "\n}\n",
                      request, "full" + std::to_string(++counter));
  }

};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// --- log ---------------------------------------------------------------------

using StdlibLog = StdlibTest;

TEST_F(StdlibLog, LinesAreCapturedWithTheirLevel) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto r = run_full("log::debug(\"d\");\nlog::info(\"i \" + 1);\nlog::warn(\"w\");\nlog::error(\"e\");");
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 4u);
  EXPECT_EQ(r.logs[0].level, LogLevel::debug);
  EXPECT_EQ(r.logs[0].message, "d");
  EXPECT_EQ(r.logs[1].level, LogLevel::info);
  EXPECT_EQ(r.logs[1].message, "i 1");
  EXPECT_EQ(r.logs[2].level, LogLevel::warn);
  EXPECT_EQ(r.logs[2].message, "w");
  EXPECT_EQ(r.logs[3].level, LogLevel::error);
  EXPECT_EQ(r.logs[3].message, "e");
  EXPECT_EQ(r.dropped_logs, 0);
  for (const auto& line : r.logs) {
    EXPECT_GE(line.time_ms, before);
    EXPECT_LE(line.time_ms, after);
  }
}

TEST_F(StdlibLog, LinesSurviveAFailedRun) {
  auto r = run_full("log::info(\"before\");\nthrow(\"boom\");");
  EXPECT_EQ(r.error, RunError::script_error);
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_EQ(r.logs[0].message, "before");
}

TEST_F(StdlibLog, LinesBeyondTheLimitAreDroppedAndCounted) {
  auto r = run_full("for (int i = 0; i < 250; i++) log::info(\"line \" + i);");
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 100u);
  EXPECT_EQ(r.logs.front().message, "line 0");
  EXPECT_EQ(r.logs.back().message, "line 99");
  EXPECT_EQ(r.dropped_logs, 150);
}

TEST(StdlibLogLimits, ConfiguredLimitsApply) {
  scripting::EngineConfig config;
  config.limits.max_log_lines = 3;
  config.limits.max_log_line_bytes = 10;
  auto engine = make_engine(config);
  MemorySource source;
  auto r = run_script(*engine, source,
                      "void handle(request@ req, response@ res) {\n"
                      "  log::info(\"0123456789\");\n"
                      "  log::warn(\"0123456789abcdef\");\n"
                      "  log::error(\"x\");\n"
                      "  log::error(\"dropped\");\n"
                      "  log::debug(\"dropped too\");\n"
                      "}\n");
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 3u);
  EXPECT_EQ(r.logs[0].message, "0123456789");  // exactly the limit: kept whole
  EXPECT_TRUE(starts_with(r.logs[1].message, "0123456789")) << r.logs[1].message;
  EXPECT_EQ(r.logs[1].message.find("abcdef"), std::string::npos) << r.logs[1].message;
  EXPECT_LE(r.logs[1].message.size(), 10u + 3u);  // the cut text and a marker
  EXPECT_EQ(r.logs[2].message, "x");
  EXPECT_EQ(r.dropped_logs, 2);
}

TEST_F(StdlibLog, LongLinesAreCut) {
  auto r = run_full("string s;\nfor (int i = 0; i < 10000; i++) s += \"x\";\nlog::info(s);\n"
                    "string exact;\nfor (int i = 0; i < 4096; i++) exact += \"y\";\nlog::info(exact);");
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 2u);
  EXPECT_TRUE(starts_with(r.logs[0].message, std::string(4096, 'x')));
  EXPECT_LE(r.logs[0].message.size(), 4096u + 3u);
  EXPECT_EQ(r.logs[0].message.find('x', 4096), std::string::npos);
  EXPECT_EQ(r.logs[1].message, std::string(4096, 'y'));
}

TEST_F(StdlibLog, CutLinesStayValidUtf8) {
  // "a" then two-byte characters: byte 4096 falls inside a character.
  auto r = run_full("string s = \"a\";\nfor (int i = 0; i < 3000; i++) s += \"\xC3\xA9\";\nlog::info(s);");
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 1u);
  EXPECT_TRUE(valid_utf8(r.logs[0].message));
  EXPECT_LE(r.logs[0].message.size(), 4096u + 3u);
  EXPECT_GE(r.logs[0].message.size(), 4090u);
  EXPECT_TRUE(starts_with(r.logs[0].message, "a\xC3\xA9\xC3\xA9"));
}

// --- regex -------------------------------------------------------------------

using StdlibRegex = StdlibTest;

TEST_F(StdlibRegex, IsMatch) {
  EXPECT_EQ(run(R"AS(res.text("" + regex::is_match("\\d+", "ab12") + regex::is_match("^\\d+$", "ab12") +
                   regex::is_match("^[a-z]+@[a-z]+\\.com$", "me@host.com") + regex::is_match("x", ""));)AS"),
            "truefalsetruefalse");
}

TEST_F(StdlibRegex, FindReturnsMatchIndexAndGroups) {
  EXPECT_EQ(run(R"AS(json m = regex::find("(\\w+)@(\\w+)(x)?", "mail: me@host now");
                   res.text(m.to_string());)AS"),
            R"({"groups":["me","host",null],"index":6,"match":"me@host"})");
}

TEST_F(StdlibRegex, FindWithoutMatchIsNull) {
  EXPECT_EQ(run(R"AS(json m = regex::find("\\d", "none here"); res.text(m.type());)AS"), "null");
}

TEST_F(StdlibRegex, FindAll) {
  EXPECT_EQ(run(R"AS(array<string>@ all = regex::find_all("\\d+", "a1b22c333d");
                   array<string>@ none = regex::find_all("z", "abc");
                   res.text(join(all, ",") + " " + all.length() + " " + none.length());)AS"),
            "1,22,333 3 0");
}

TEST_F(StdlibRegex, ReplaceWithGroups) {
  EXPECT_EQ(run(R"AS(res.text(regex::replace("(\\w+)@(\\w+)", "me@host, you@there", "$2 at $1") + "|" +
                            regex::replace("\\s+", "a  b \t c", " ") + "|" +
                            regex::replace("o", "foo", "$&$&") + "|" +
                            regex::replace("z", "abc", "y"));)AS"),
            "host at me, there at you|a b c|foooo|abc");
}

TEST_F(StdlibRegex, Split) {
  EXPECT_EQ(run(R"AS(array<string>@ p = regex::split(",\\s*", "a, b,c,,  d");
                   array<string>@ q = regex::split(",", "single");
                   res.text(join(p, "|") + " " + p.length() + " " + join(q, "|") + " " + q.length());)AS"),
            "a|b|c||d 5 single 1");
}

TEST_F(StdlibRegex, InvalidPatternThrowsCatchable) {
  for (const char* pattern : {"(", "[a-", "a{2,1}", "*x", "(?<name"}) {
    std::string escaped;
    for (const char* c = pattern; *c; ++c) {
      if (*c == '\\' || *c == '"') escaped.push_back('\\');
      escaped.push_back(*c);
    }
    std::string got = caught("regex::is_match(\"" + escaped + "\", \"abc\");");
    EXPECT_TRUE(starts_with(got, "caught: regex: invalid pattern")) << pattern << ": " << got;
  }
}

TEST_F(StdlibRegex, TooLongPatternThrows) {
  EXPECT_EQ(caught("string p;\nfor (int i = 0; i < 4097; i++) p += \"a\";\nregex::is_match(p, \"a\");"),
            "caught: regex: pattern longer than 4096 characters");
}

TEST_F(StdlibRegex, CatastrophicBacktrackingThrowsCatchable) {
  auto started = std::chrono::steady_clock::now();
  for (const char* call : {"regex::is_match(\"(a+)+$\", s)", "regex::find(\"(a+)+$\", s)",
                           "regex::replace(\"(a+)+$\", s, \"x\")", "regex::find_all(\"(a+)+$\", s)",
                           "regex::split(\"(a+)+$\", s)"}) {
    std::string got = caught("string s;\nfor (int i = 0; i < 30000; i++) s += \"a\";\ns += \"b\";\n" +
                             std::string(call) + ";");
    EXPECT_TRUE(starts_with(got, "caught: regex: ")) << call << ": " << got;
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 60);
  EXPECT_EQ(run("res.text(\"\" + regex::is_match(\"a+\", \"aaa\"));"), "true");
}

// --- random ------------------------------------------------------------------

using StdlibRandom = StdlibTest;

TEST_F(StdlibRandom, UuidIsVersion4) {
  std::string got = run("res.text(random::uuid() + \" \" + random::uuid());");
  static const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  auto space = got.find(' ');
  ASSERT_NE(space, std::string::npos) << got;
  std::string a = got.substr(0, space), b = got.substr(space + 1);
  EXPECT_TRUE(std::regex_match(a, v4)) << a;
  EXPECT_TRUE(std::regex_match(b, v4)) << b;
  EXPECT_NE(a, b);
}

TEST_F(StdlibRandom, IntegerStaysInRangeAndReachesBothEnds) {
  EXPECT_EQ(run("int64 lo = 100, hi = -100; bool low = false, high = false;\n"
                "for (int i = 0; i < 3000; i++) {\n"
                "  int64 v = random::integer(1, 6);\n"
                "  if (v < lo) lo = v;\n  if (v > hi) hi = v;\n"
                "}\n"
                "res.text(lo + \" \" + hi);"),
            "1 6");
}

TEST_F(StdlibRandom, IntegerEdgeRanges) {
  EXPECT_EQ(run("bool ok = true;\n"
                "for (int i = 0; i < 200; i++) {\n"
                "  int64 n = random::integer(-3, -1);\n  if (n < -3 || n > -1) ok = false;\n"
                "  int64 b = random::integer(0, 1);\n  if (b != 0 && b != 1) ok = false;\n"
                "}\n"
                "int64 full = random::integer(-9223372036854775807 - 1, 9223372036854775807);\n"
                "int64 big = random::integer(9223372036854775806, 9223372036854775807);\n"
                "res.text(ok + \" \" + random::integer(5, 5) + \" \" + (big >= 9223372036854775806));"),
            "true 5 true");
}

TEST_F(StdlibRandom, IntegerRejectsMinAboveMax) {
  EXPECT_EQ(caught("random::integer(3, 2);"), "caught: random: integer(min, max) needs min <= max");
}

TEST_F(StdlibRandom, Bytes) {
  EXPECT_EQ(run("array<uint8>@ a = random::bytes(32);\narray<uint8>@ b = random::bytes(32);\n"
                "res.text(a.length() + \" \" + random::bytes(0).length() + \" \" + random::bytes(1048576).length() + \" \" +\n"
                "         (hex::encode(a) != hex::encode(b)));"),
            "32 0 1048576 true");
}

TEST_F(StdlibRandom, BytesRejectsBadCounts) {
  EXPECT_EQ(caught("random::bytes(-1);"), "caught: random: bytes(count) needs 0 <= count <= 1048576");
  EXPECT_EQ(caught("random::bytes(1048577);"), "caught: random: bytes(count) needs 0 <= count <= 1048576");
}

// --- time --------------------------------------------------------------------

using StdlibTime = StdlibTest;

TEST_F(StdlibTime, NowIsCloseToTheSystemClock) {
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string got = run("res.text(\"\" + time::now());");
  auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  long long now = std::stoll(got);
  EXPECT_GE(now, before);
  EXPECT_LE(now, after);
}

TEST_F(StdlibTime, ParseUtc) {
  EXPECT_EQ(run("res.text(\"\" + time::parse(\"2026-01-31T12:00:00Z\"));"), "1769860800000");
  EXPECT_EQ(run("res.text(\"\" + time::parse(\"1970-01-01T00:00:00Z\"));"), "0");
}

TEST_F(StdlibTime, ParseOffsets) {
  EXPECT_EQ(run("res.text(time::parse(\"2026-01-31T14:00:00+02:00\") + \" \" + time::parse(\"2026-01-31T06:30:00-05:30\") +\n"
                "         \" \" + time::parse(\"2026-01-31T14:00:00+0200\") + \" \" + time::parse(\"2026-01-31T12:00:00+00:00\"));"),
            "1769860800000 1769860800000 1769860800000 1769860800000");
}

TEST_F(StdlibTime, ParseFractions) {
  EXPECT_EQ(run("res.text(time::parse(\"2026-01-31T12:00:00.5Z\") + \" \" + time::parse(\"2026-01-31T12:00:00.123Z\") +\n"
                "         \" \" + time::parse(\"2026-01-31T12:00:00.123456789Z\") + \" \" +\n"
                "         time::parse(\"2026-01-31T14:00:00.250+02:00\"));"),
            "1769860800500 1769860800123 1769860800123 1769860800250");
}

TEST_F(StdlibTime, ParseVariants) {
  EXPECT_EQ(run("res.text(time::parse(\"2026-01-31\") + \" \" + time::parse(\"2026-01-31t12:00:00z\") + \" \" +\n"
                "         time::parse(\"2026-01-31 12:00:00Z\"));"),
            "1769817600000 1769860800000 1769860800000");
}

TEST_F(StdlibTime, ParseRejectsBadText) {
  for (const char* bad : {"", "not a date", "yesterday", "abcdefghij", "2026/01/31", "31.01.2026", "2026-1-31",
                          "2026-01-31T12:00:00", "2026-02-30T00:00:00Z", "2026-13-01", "2026-01-31T25:00:00Z",
                          "2026-01-31T12:00:00+25:00x", "hello Z", "2026-01-31Tnoon Z", "2026-01-31T12:00:00ZZ",
                          "x2026-01-31T12:00:00Z", "2026-01-31T12:00:00 +02:00 trailing Z", "2026-01-31T12:00:00+24:00",
                          "2026-01-31T12:00:00+02:60", "2026-01-31T12:00Z", "2026-01-31T12:00+02:00",
                          "2026-01-31T12:00:00.Z", "2026-01-31 ", " 2026-01-31", "20260131"}) {
    std::string got = caught("time::parse(\"" + std::string(bad) + "\");");
    EXPECT_TRUE(starts_with(got, "caught: time: cannot parse")) << "\"" << bad << "\" gave: " << got;
  }
}

TEST_F(StdlibTime, ParseRejectsVeryLongText) {
  EXPECT_EQ(caught("string s = \"2026-01-31T12:00:00Z\";\nfor (int i = 0; i < 10; i++) s += \"          \";\n"
                   "time::parse(s);"),
            "caught: time: cannot parse a date longer than 64 characters");
}

TEST_F(StdlibTime, ParseRoundsDownToTheMillisecond) {
  EXPECT_EQ(run("res.text(time::parse(\"1969-12-31T23:59:59.9995Z\") + \" \" + time::parse(\"1969-12-31T23:59:59.999Z\") +\n"
                "         \" \" + time::parse(\"1970-01-01T00:00:00.0009Z\") + \" \" + time::parse(\"1969-12-31T00:00:00Z\"));"),
            "-1 -1 0 -86400000");
}

TEST_F(StdlibTime, UnitsRefuseOverflow) {
  EXPECT_EQ(caught("time::days(9223372036854775807);"), "caught: time: days(9223372036854775807) is out of range");
  EXPECT_EQ(caught("time::seconds(-9223372036854775807 - 1);"),
            "caught: time: seconds(-9223372036854775808) is out of range");
  EXPECT_EQ(caught("time::hours(2562047788016);"), "caught: time: hours(2562047788016) is out of range");
  EXPECT_EQ(run("res.text(\"\" + time::hours(2562047788015));"), "9223372036854000000");
}

TEST_F(StdlibTime, Format) {
  EXPECT_EQ(run("res.text(time::format(0) + \" \" + time::format(1769860800123) + \" \" + time::format(-1));"),
            "1970-01-01T00:00:00.000Z 2026-01-31T12:00:00.123Z 1969-12-31T23:59:59.999Z");
}

TEST_F(StdlibTime, FormatRoundTrips) {
  EXPECT_EQ(run("array<int64> xs = {0, 1, 999, 1769860800123, -86400000, -1, 253402300799999, -62135596800000};\n"
                "string result;\n"
                "for (uint i = 0; i < xs.length(); i++) result += (time::parse(time::format(xs[i])) == xs[i] ? \"ok \" : \"BAD \");\n"
                "res.text(result);"),
            "ok ok ok ok ok ok ok ok ");
}

TEST_F(StdlibTime, FormatOutOfRangeThrows) {
  EXPECT_EQ(caught("time::format(253402300800000);"), "caught: time: instant out of range");
  EXPECT_EQ(caught("time::format(-62135596800001);"), "caught: time: instant out of range");
}

TEST_F(StdlibTime, Units) {
  EXPECT_EQ(run("res.text(time::seconds(2) + \" \" + time::minutes(3) + \" \" + time::hours(4) + \" \" + time::days(5) +\n"
                "         \" \" + time::seconds(-1) + \" \" +\n"
                "         (time::parse(\"2026-02-01T12:00:00Z\") - time::parse(\"2026-01-31T12:00:00Z\") == time::days(1)));"),
            "2000 180000 14400000 432000000 -1000 true");
}

// --- base64 and hex ---------------------------------------------------------------

using StdlibCodecs = StdlibTest;

TEST_F(StdlibCodecs, Base64KnownVectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(run("array<string> xs = {\"\", \"f\", \"fo\", \"foo\", \"foob\", \"fooba\", \"foobar\"};\nstring result;\n"
                "for (uint i = 0; i < xs.length(); i++) result += base64::encode(xs[i]) + \",\";\nres.text(result);"),
            ",Zg==,Zm8=,Zm9v,Zm9vYg==,Zm9vYmE=,Zm9vYmFy,");
  EXPECT_EQ(run("array<string> xs = {\"\", \"Zg==\", \"Zm8=\", \"Zm9v\", \"Zm9vYg==\", \"Zm9vYmE=\", \"Zm9vYmFy\"};\n"
                "string result;\n"
                "for (uint i = 0; i < xs.length(); i++) result += base64::decode(xs[i]) + \",\";\nres.text(result);"),
            ",f,fo,foo,foob,fooba,foobar,");
}

TEST_F(StdlibCodecs, Base64Bytes) {
  EXPECT_EQ(run("array<uint8> data = {0, 255, 128, 62, 63};\n"
                "string text = base64::encode(data);\n"
                "array<uint8>@ back = base64::decode_bytes(text);\n"
                "string listed;\nfor (uint i = 0; i < back.length(); i++) listed += back[i] + \",\";\n"
                "res.text(text + \" \" + listed);"),
            "AP+APj8= 0,255,128,62,63,");
}

TEST_F(StdlibCodecs, Base64LongInputHasNoLineBreaks) {
  std::string got = run("string s;\nfor (int i = 0; i < 300; i++) s += \"abc\";\nres.text(base64::encode(s));");
  EXPECT_EQ(got.size(), 1200u);
  EXPECT_EQ(got.find_first_of("\r\n"), std::string::npos);
  EXPECT_EQ(got.substr(0, 8), "YWJjYWJj");
}

TEST_F(StdlibCodecs, Base64AcceptsUnpaddedAndUrlSafe) {
  EXPECT_EQ(run("array<uint8>@ b = base64::decode_bytes(\"AP-A_w\");\n"
                "res.text(base64::decode(\"Zm9vYg\") + base64::decode(\"Zg=\") + base64::decode(\"Zm8\") + \" \" +\n"
                "         base64::decode(\"Zm9v\\nYmFy\") + \" \" + b.length() + \" \" +\n"
                "         b[0] + \",\" + b[1] + \",\" + b[2] + \",\" + b[3]);"),
            "foobffo foobar 4 0,255,128,255");
}

TEST_F(StdlibCodecs, Base64RejectsInvalidInput) {
  for (const char* bad : {"Zm9v!", "Zm 9v", "Z", "Zm9vY", "====", "Zg==Zg==", "Z===", "@@@@", "Zm9v=", "Zm9v==",
                          "Zg===", "=Zg=", "Zm=9v"}) {
    std::string got = caught("base64::decode(\"" + std::string(bad) + "\");");
    EXPECT_TRUE(starts_with(got, "caught: base64: ")) << "\"" << bad << "\" gave: " << got;
    got = caught("base64::decode_bytes(\"" + std::string(bad) + "\");");
    EXPECT_TRUE(starts_with(got, "caught: base64: ")) << "\"" << bad << "\" gave: " << got;
  }
}

TEST_F(StdlibCodecs, Hex) {
  EXPECT_EQ(run("array<uint8> data = {0, 15, 16, 255};\narray<uint8>@ back = hex::decode_bytes(\"000F10fF\");\n"
                "res.text(hex::encode(\"foobar\") + \" \" + hex::decode(\"666f6f626172\") + \" \" + hex::encode(data) + \" \" +\n"
                "         back.length() + \":\" + back[0] + \",\" + back[1] + \",\" + back[2] + \",\" + back[3] + \" [\" +\n"
                "         hex::encode(\"\") + hex::decode(\"\") + \"]\");"),
            "666f6f626172 foobar 000f10ff 4:0,15,16,255 []");
}

TEST_F(StdlibCodecs, HexRejectsInvalidInput) {
  EXPECT_EQ(caught("hex::decode(\"abc\");"), "caught: hex: input has an odd number of digits");
  EXPECT_EQ(caught("hex::decode(\"zz\");"), "caught: hex: invalid digit 'z'");
  EXPECT_EQ(caught("hex::decode_bytes(\"0g\");"), "caught: hex: invalid digit 'g'");
  EXPECT_EQ(caught("hex::decode_bytes(\"0 \");"), "caught: hex: invalid digit ' '");
}

// --- url ---------------------------------------------------------------------

using StdlibUrl = StdlibTest;

TEST_F(StdlibUrl, Encode) {
  EXPECT_EQ(run("res.text(url::encode(\"a b&c=d/\xC3\xA9?#+%\") + \" \" + url::encode(\"AZaz09-._~\"));"),
            "a%20b%26c%3Dd%2F%C3%A9%3F%23%2B%25 AZaz09-._~");
}

TEST_F(StdlibUrl, Decode) {
  EXPECT_EQ(run("res.text(url::decode(\"a+b%20c%2B%C3%A9%2f\") + \"|\" + url::decode(\"plain\") + \"|\" +\n"
                "         url::decode(\"x=1+2?y=3+4\"));"),
            "a b c+\xC3\xA9/|plain|x=1 2?y=3 4");
}

TEST_F(StdlibUrl, EncodeDecodeRoundTrip) {
  EXPECT_EQ(run("string s = \"k=v&x=1 2+3/\xE2\x82\xAC\\\"'<>\";\nres.text(\"\" + (url::decode(url::encode(s)) == s));"),
            "true");
}

TEST_F(StdlibUrl, DecodeRejectsBadEscapes) {
  EXPECT_TRUE(starts_with(caught("url::decode(\"%zz\");"), "caught: url: "));
  EXPECT_TRUE(starts_with(caught("url::decode(\"abc%4\");"), "caught: url: "));
  EXPECT_TRUE(starts_with(caught("url::decode(\"abc%\");"), "caught: url: "));
}

TEST_F(StdlibUrl, ParseFullUrl) {
  EXPECT_EQ(run("json u = url::parse(\"https://user@example.com:8443/a/b%20c?x=1&y=two+words&z=%C3%A9#frag\");\n"
                "res.text(u[\"scheme\"].as_string() + \"|\" + u[\"user_info\"].as_string() + \"|\" + u[\"host\"].as_string() +\n"
                "         \"|\" + u[\"port\"].as_int() + \"|\" + u[\"path\"].as_string() + \"|\" + u[\"query\"].to_string() +\n"
                "         \"|\" + u[\"raw_query\"].as_string() + \"|\" + u[\"fragment\"].as_string() + \"|\" + u[\"port\"].type());"),
            "https|user|example.com|8443|/a/b c|{\"x\":\"1\",\"y\":\"two words\",\"z\":\"\xC3\xA9\"}|"
            "x=1&y=two+words&z=%C3%A9|frag|int");
}

TEST_F(StdlibUrl, ParseDefaultsPortAndEmptyParts) {
  EXPECT_EQ(run("json a = url::parse(\"http://example.org\");\njson b = url::parse(\"https://example.org/x\");\n"
                "res.text(a[\"port\"].as_int() + \" \" + b[\"port\"].as_int() + \" [\" + a[\"path\"].as_string() + \"] \" +\n"
                "         a[\"query\"].to_string() + \" [\" + a[\"fragment\"].as_string() + \"]\");"),
            "80 443 [] {} []");
}

TEST_F(StdlibUrl, ParseRefusesRelativeUrls) {
  for (const char* relative : {"/a/b?x=1", "a/b", "//example.com/x", "?q=1", ""}) {
    std::string got = caught("url::parse(\"" + std::string(relative) + "\");");
    EXPECT_TRUE(starts_with(got, "caught: url: ")) << "\"" << relative << "\" gave: " << got;
  }
}

TEST_F(StdlibUrl, ParseRefusesBadPort) {
  EXPECT_TRUE(starts_with(caught("url::parse(\"http://example.com:99999/\");"), "caught: url: "));
}

// --- crypto ------------------------------------------------------------------

using StdlibCrypto = StdlibTest;

TEST_F(StdlibCrypto, Sha256) {
  EXPECT_EQ(run("res.text(crypto::sha256(\"abc\"));"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(run("res.text(crypto::sha256(\"\"));"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(run("array<uint8> b = {0, 255, 128};\nres.text(crypto::sha256(b));"),
            "f742b965f156c10374bc23aea96e3a8aff8facd6fc079defeaa30219ad86f211");
  EXPECT_EQ(run("array<uint8> b = {97, 98, 99};\nres.text(\"\" + (crypto::sha256(b) == crypto::sha256(\"abc\")));"),
            "true");
}

TEST_F(StdlibCrypto, HmacSha256Rfc4231) {
  // Test case 2.
  EXPECT_EQ(run("res.text(crypto::hmac_sha256(\"Jefe\", \"what do ya want for nothing?\"));"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1, with byte arrays.
  EXPECT_EQ(run("array<uint8> key(20, 0x0b);\narray<uint8> data = {72, 105, 32, 84, 104, 101, 114, 101};\n"
                "res.text(crypto::hmac_sha256(key, data));"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST_F(StdlibCrypto, Equals) {
  EXPECT_EQ(run("res.text(\"\" + crypto::equals(\"abc\", \"abc\") + crypto::equals(\"abc\", \"abd\") +\n"
                "         crypto::equals(\"abc\", \"abcd\") + crypto::equals(\"\", \"\"));"),
            "truefalsefalsetrue");
}

// --- request -----------------------------------------------------------------

using RequestTest = StdlibTest;

sdk::HttpRequest full_request() {
  sdk::HttpRequest r;
  r.method = "POST";
  r.path = "/users/42/items";
  r.query = "a=1&b=two+words&c=%C3%A9&d=x%2By&a=2&flag&e%20k=v";
  r.headers = {{"content-type", "application/json"}, {"x-trace", "first"}, {"x-trace", "second"}, {"accept", "*/*"}};
  r.params = {{"id", "42"}, {"name", "caf\xC3\xA9"}};
  r.body = R"({"hello": "world", "n": 2})";
  r.remote_address = "203.0.113.7";
  r.request_id = "req-1";
  return r;
}

TEST_F(RequestTest, BasicProperties) {
  auto r = run_full("res.text(req.method + \"|\" + req.path + \"|\" + req.remote_address + \"|\" + req.request_id + \"|\" +\n"
                    "         req.raw_query + \"|\" + req.body);",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body,
            "POST|/users/42/items|203.0.113.7|req-1|a=1&b=two+words&c=%C3%A9&d=x%2By&a=2&flag&e%20k=v|"
            R"({"hello": "world", "n": 2})");
}

TEST_F(RequestTest, Params) {
  auto r = run_full("res.text(req.params.to_string() + \"|\" + req.param(\"id\") + \"|\" + req.param(\"nope\", \"fb\") + \"|\" +\n"
                    "         req.param(\"nope\") + \"|\" + req.params[\"name\"].as_string() + \"|\" + req.params.has(\"nope\"));",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "{\"id\":\"42\",\"name\":\"caf\xC3\xA9\"}|42|fb||caf\xC3\xA9|false");
}

TEST_F(RequestTest, Query) {
  auto r = run_full("const json@ q = req.query;\n"
                    "res.text(q[\"a\"].as_string() + \"|\" + q[\"b\"].as_string() + \"|\" + q[\"c\"].as_string() + \"|\" +\n"
                    "         q[\"d\"].as_string() + \"|\" + q.has(\"flag\") + \"[\" + q[\"flag\"].as_string() + \"]|\" +\n"
                    "         q[\"e k\"].as_string() + \"|\" + q.size() + \"|\" + q.has(\"missing\"));",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "1|two words|\xC3\xA9|x+y|true[]|v|6|false");
}

TEST_F(RequestTest, EmptyQueryAndNoParams) {
  auto r = run_full("res.text(req.query.to_string() + req.params.to_string() + req.headers.to_string() + \"[\" + req.body + \"]\");");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "{}{}{}[]");
}

TEST_F(RequestTest, MalformedQueryThrowsCatchable) {
  auto request = get("/", "a=%zz");
  auto r = run_full("string result = \"no exception\";\n"
                    "try { req.query.size(); } catch { result = getExceptionInfo(); }\n"
                    "res.text(result + \" \" + req.raw_query);",
                    request);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "request: malformed query string a=%zz");
}

TEST_F(RequestTest, Headers) {
  auto r = run_full("res.text(req.header(\"Content-Type\") + \"|\" + req.header(\"CONTENT-TYPE\") + \"|\" +\n"
                    "         req.header(\"x-trace\") + \"|\" + req.header(\"X-Missing\", \"fallback\") + \"|\" +\n"
                    "         req.header(\"x-missing\") + \"|\" + req.headers[\"x-trace\"].as_string() + \"|\" +\n"
                    "         req.headers.has(\"Content-Type\") + \"|\" + join(req.headers.keys(), \",\"));",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "application/json|application/json|first|fallback||first|false|accept,content-type,x-trace");
}

TEST_F(RequestTest, JsonBody) {
  auto r = run_full("json b = req.json();\nres.text(b[\"hello\"].as_string() + \" \" + b[\"n\"].as_int() + \" \" + b.to_string());",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, R"(world 2 {"hello":"world","n":2})");
}

TEST_F(RequestTest, InvalidJsonBodyThrowsCatchable) {
  for (const char* body : {"{not json", "", "[1,", "plain text"}) {
    auto request = get();
    request.body = body;
    auto r = run_full("string result = \"no exception\";\n"
                      "try { json b = req.json(); } catch { result = getExceptionInfo(); }\n"
                      "res.text(result);",
                      request);
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_TRUE(starts_with(r.response.body, "request: body is not valid JSON")) << "\"" << body << "\" gave: "
                                                                                    << r.response.body;
  }
}

TEST_F(RequestTest, JsonBodyMayBeAnyValue) {
  auto request = get();
  request.body = " 42 ";
  auto r = run_full("json b = req.json();\nres.text(b.type() + \" \" + b.as_int());", request);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "int 42");
}

TEST_F(RequestTest, TooDeepJsonBodyThrowsCatchable) {
  auto request = get();
  request.body = std::string(100, '[') + std::string(100, ']');
  auto r = run_full("string result = \"no exception\";\n"
                    "try { json b = req.json(); } catch { result = getExceptionInfo(); }\n"
                    "res.text(result);",
                    request);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_TRUE(starts_with(r.response.body, "request: body is not valid JSON (json: ")) << r.response.body;
}

TEST_F(RequestTest, UncaughtInvalidJsonBodyFailsTheRun) {
  auto request = get();
  request.body = "{\"unfinished\":";
  auto r = run_full("json b = req.json();\nres.json(b);", request);
  EXPECT_EQ(r.error, RunError::script_error);
  EXPECT_EQ(r.status(), 502);
  EXPECT_TRUE(starts_with(r.message, "request: body is not valid JSON (json: invalid JSON")) << r.message;
  EXPECT_NE(r.message.find("in handle"), std::string::npos) << r.message;
}

TEST_F(RequestTest, Bytes) {
  auto request = get();
  request.body = std::string("a\0b\xff", 4);
  auto r = run_full("array<uint8>@ b = req.bytes();\n"
                    "res.text(b.length() + \":\" + b[0] + \",\" + b[1] + \",\" + b[2] + \",\" + b[3] + \" \" + req.body.length());",
                    request);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "4:97,0,98,255 4");
}

TEST_F(RequestTest, ParamsQueryAndHeadersAreReadOnlyCopies) {
  // The objects are const: a script copies them to change them, and the
  // request itself stays as it was.
  auto r = run_full("json q = req.query;\nq[\"a\"] = \"changed\";\njson h = req.headers;\nh.remove(\"accept\");\n"
                    "res.text(q[\"a\"].as_string() + \" \" + req.query[\"a\"].as_string() + \" \" + req.headers.has(\"accept\"));",
                    full_request());
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "changed 1 true");
}

TEST_F(RequestTest, WritingToQueryDoesNotCompile) {
  auto r = run_full("req.query[\"a\"] = \"x\";");
  EXPECT_EQ(r.error, RunError::compile_error) << r.message;
}

// --- response ----------------------------------------------------------------

using ResponseTest = StdlibTest;

// The value of header `name` in `r`, and how many times it occurs.
std::pair<std::string, int> header_of(const sdk::HttpResponse& r, const std::string& name) {
  std::pair<std::string, int> out{"", 0};
  for (const auto& [k, v] : r.headers)
    if (k == name) {
      if (out.second == 0) out.first = v;
      ++out.second;
    }
  return out;
}

TEST_F(ResponseTest, Defaults) {
  auto r = run_full("res.text(\"\" + res.status);");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.response.body, "200");

  auto empty = run_full("");
  ASSERT_TRUE(empty.ok()) << empty.message;
  EXPECT_EQ(empty.response.status, 200);
  EXPECT_EQ(empty.response.body, "");
  EXPECT_TRUE(empty.response.headers.empty());
}

TEST_F(ResponseTest, Status) {
  auto r = run_full("res.status = 201;\nres.text(\"\" + res.status);");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.status, 201);
  EXPECT_EQ(r.response.body, "201");
  EXPECT_EQ(r.status(), 201);
  for (int ok : {200, 204, 404, 599}) {
    auto s = run_full("res.status = " + std::to_string(ok) + ";");
    ASSERT_TRUE(s.ok()) << s.message;
    EXPECT_EQ(s.response.status, ok);
  }
}

TEST_F(ResponseTest, OutOfRangeStatusThrows) {
  for (int bad : {99, 100, 101, 103, 199, 600, 0, -1, 1000}) {
    auto r = run_full("string result = \"no exception\";\nres.status = 418;\n"
                      "try { res.status = " +
                      std::to_string(bad) +
                      "; } catch { result = getExceptionInfo(); }\n"
                      "res.text(result);");
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.response.body, "response: status " + std::to_string(bad) + " is not 200-599");
    EXPECT_EQ(r.response.status, 418);
  }
}

TEST_F(ResponseTest, SetHeader) {
  auto r = run_full("res.set_header(\"X-Custom\", \"one\");\nres.set_header(\"x-custom\", \"two\");\n"
                    "res.set_header(\"Cache-Control\", \"no-store\");\nres.text(\"ok\");");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(header_of(r.response, "x-custom"), std::make_pair(std::string("two"), 1));
  EXPECT_EQ(header_of(r.response, "cache-control"), std::make_pair(std::string("no-store"), 1));
  EXPECT_EQ(header_of(r.response, "X-Custom").second, 0);  // names are stored lower case
}

TEST_F(ResponseTest, SetHeaderRefusesLineBreaks) {
  for (const char* value : {"a\\r\\nSet-Cookie: x=1", "a\\nb", "a\\rb", "a\\x00b"}) {
    auto r = run_full("string result = \"no exception\";\n"
                      "try { res.set_header(\"X-Test\", \"" +
                      std::string(value) +
                      "\"); } catch { result = getExceptionInfo(); }\n"
                      "res.text(result);");
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_EQ(r.response.body, "response: header X-Test has a line break in its value") << value;
    EXPECT_EQ(header_of(r.response, "x-test").second, 0);
    EXPECT_EQ(header_of(r.response, "set-cookie").second, 0);
  }
}

TEST_F(ResponseTest, SetHeaderRefusesBadNames) {
  for (const char* name : {"", "Bad Name", "X-A\\r\\nX-B", "a:b", "caf\xC3\xA9"}) {
    auto r = run_full("string result = \"no exception\";\n"
                      "try { res.set_header(\"" +
                      std::string(name) +
                      "\", \"v\"); } catch { result = getExceptionInfo(); }\n"
                      "res.text(result);");
    ASSERT_TRUE(r.ok()) << r.message;
    EXPECT_TRUE(starts_with(r.response.body, "response: \"")) << name << ": " << r.response.body;
    EXPECT_NE(r.response.body.find("is not a valid header name"), std::string::npos) << r.response.body;
  }
}

TEST_F(ResponseTest, TextSetsContentType) {
  auto r = run_full("res.text(\"h\xC3\xA9llo\");");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "h\xC3\xA9llo");
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("text/plain; charset=utf-8"), 1));
}

TEST_F(ResponseTest, HtmlSetsContentType) {
  auto r = run_full("res.html(\"<p>hi</p>\");");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "<p>hi</p>");
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("text/html; charset=utf-8"), 1));
}

TEST_F(ResponseTest, JsonSetsContentTypeAndBody) {
  auto r = run_full("json o = {{\"b\", 2.0}, {\"a\", array<int> = {1}}};\nres.json(o);");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, R"({"a":[1],"b":2.0})");
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("application/json"), 1));
}

TEST_F(ResponseTest, BytesSetsContentTypeAndKeepsBinary) {
  auto r = run_full("array<uint8> b = {0, 1, 255, 10};\nres.bytes(b);");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, std::string("\x00\x01\xff\x0a", 4));
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("application/octet-stream"), 1));
}

TEST_F(ResponseTest, ExplicitContentTypeIsKept) {
  auto r = run_full("res.set_header(\"Content-Type\", \"text/csv\");\nres.text(\"a,b\");");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("text/csv"), 1));
  auto after = run_full("res.text(\"a,b\");\nres.set_header(\"content-type\", \"text/csv\");");
  ASSERT_TRUE(after.ok()) << after.message;
  EXPECT_EQ(header_of(after.response, "content-type"), std::make_pair(std::string("text/csv"), 1));
}

TEST_F(ResponseTest, LastBodyCallSetsTheContentType) {
  // A body replaced by a later call must not keep the first call's type.
  auto r = run_full("res.text(\"first\");\njson o = {{\"a\", 1}};\nres.json(o);");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, R"({"a":1})");
  EXPECT_EQ(header_of(r.response, "content-type"), std::make_pair(std::string("application/json"), 1));
  auto html = run_full("array<uint8> b = {1};\nres.bytes(b);\nres.html(\"<b>x</b>\");");
  ASSERT_TRUE(html.ok()) << html.message;
  EXPECT_EQ(header_of(html.response, "content-type"), std::make_pair(std::string("text/html; charset=utf-8"), 1));
}

TEST(ResponseLimits, BodyLargerThanTheLimitEndsTheRun) {
  scripting::EngineConfig config;
  config.limits.max_response_bytes = 100;
  auto engine = make_engine(config);
  MemorySource source;
  auto r = run_script(*engine, source,
                      "void handle(request@ req, response@ res) {\n"
                      "  string s;\n  for (int i = 0; i < 101; i++) s += \"x\";\n"
                      "  try { res.text(s); } catch { res.text(\"caught\"); }\n"
                      "}\n");
  EXPECT_EQ(r.error, RunError::output_limit) << r.message;
  EXPECT_EQ(r.status(), 507);
  auto fits = run_script(*engine, source,
                         "void handle(request@ req, response@ res) {\n"
                         "  string s;\n  for (int i = 0; i < 100; i++) s += \"x\";\n  res.text(s);\n"
                         "}\n",
                         get(), "fits");
  ASSERT_TRUE(fits.ok()) << fits.message;
  EXPECT_EQ(fits.response.body.size(), 100u);
}

}  // namespace
}  // namespace picloud::test
