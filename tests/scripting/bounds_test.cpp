// Library functions that build their result inside third-party code (Boost,
// Poco, the AngelScript add-ons) or grow it in a loop: a script that tries to
// make one of them produce more than the run may hold gets a clean error with
// its status, the process survives, and the next run works.
#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;

std::string handler(const std::string& body) {
  return "void handle(request@ req, response@ res) {\n" + body + "\n}\n";
}

class Bounds : public ::testing::Test {
 protected:
  // Runs `body` as a fresh script and checks that the run ended with
  // `expected`, whose message contains `message`, then that a normal script
  // still runs.
  void expect_error(const std::string& body, RunError expected, const std::string& message) {
    auto r = run_script(*engine_, source_, handler(body), get(), "s" + std::to_string(++counter_));
    EXPECT_EQ(r.error, expected) << scripting::to_string(r.error) << ": " << r.message;
    EXPECT_NE(r.message.find(message), std::string::npos) << r.message;
    auto ok = run_script(*engine_, source_, handler("res.text(\"still here\");"), get(), "ok" + std::to_string(counter_));
    EXPECT_TRUE(ok.ok()) << ok.message;
    EXPECT_EQ(ok.response.body, "still here");
  }

  std::unique_ptr<scripting::Engine> engine_ = make_engine();
  MemorySource source_;
  int counter_ = 0;
};

// 50,000 matches, each replaced by 400 characters: 20 MB of output. This
// ended the process (double free, or a segmentation fault) when the output
// grew inside boost::regex_replace.
TEST_F(Bounds, RegexReplaceWithAHugeResult) {
  expect_error("string text; text.resize(50000); string with; with.resize(400);\n"
               "res.text(regex::replace(\".\", text, with));",
               RunError::memory_limit, "larger than");
}

TEST_F(Bounds, RegexReplaceRepeatingALongMatch) {
  expect_error("string text; text.resize(1000000); string with;\n"
               "for (int i = 0; i < 40; i++) with += \"$&\";\n"
               "res.text(regex::replace(\"\\\\x00+\", text, with));",
               RunError::memory_limit, "larger than");
}

// Catching the error does not let the run go on past its budget.
TEST_F(Bounds, RegexReplaceErrorCannotBeCaughtAway) {
  expect_error("string text; text.resize(50000); string with; with.resize(400);\n"
               "try { regex::replace(\".\", text, with); } catch {}\n"
               "res.text(\"went on\");",
               RunError::memory_limit, "");
}

TEST_F(Bounds, RegexReplaceStillBuildsLargeResultsThatFit) {
  auto r = run_script(*engine_, source_,
                      handler("string text; text.resize(20000); string with; with.resize(400);\n"
                              "res.text(\"\" + regex::replace(\".\", text, \"<\" + with + \">\").length());"));
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, std::to_string(20000 * 402));
}

TEST_F(Bounds, HexOfAHugeInput) {
  expect_error("string text; text.resize(9000000); res.text(hex::encode(text));", RunError::memory_limit, "");
}

// 11 MB encode to 14.7 MB: either the right text or the memory error, never
// a shortened result.
TEST_F(Bounds, Base64OfALargeInputIsWholeOrAnError) {
  auto r = run_script(*engine_, source_,
                      handler("string text; text.resize(11000000);\n"
                              "res.text(\"\" + base64::encode(text).length());"));
  if (r.ok()) EXPECT_EQ(r.response.body, "14666668");
  else EXPECT_EQ(r.error, RunError::memory_limit) << r.message;
  expect_error("string text; text.resize(13000000); res.text(base64::encode(text));", RunError::memory_limit, "");
}

TEST_F(Bounds, UrlEncodeOfAHugeInput) {
  expect_error("string text; text.resize(6000000); res.text(url::encode(text));", RunError::memory_limit, "");
}

TEST_F(Bounds, JoinWithAHugeDelimiter) {
  expect_error("string d; d.resize(1000); res.text(join(array<string>(100000, \"\"), d));", RunError::memory_limit,
               "");
}

// Millions of small values: the tree outgrows the budget while Poco parses.
TEST_F(Bounds, JsonParseOfManyValues) {
  expect_error("string t = \"1\"; for (int i = 0; i < 21; i++) t = t + \",\" + t;\n"
               "json j = json::parse(\"[\" + t + \"]\"); res.text(\"\" + j.size());",
               RunError::memory_limit, "");
}

// A string operator that fails for the run's memory while its result is
// passed on as an argument: AngelScript destroyed the unfilled result, and
// the process ended (double free or segmentation fault) with the string
// add-on's registration. Each form reaches the failure through another member.
TEST_F(Bounds, ConcatenationPassedOn) {
  expect_error("string s; s.resize(9000000); res.text(s + s);", RunError::memory_limit, "");
}
// Each form fails in the member it names (a run budget of 40 MiB, one value
// of at most 16 MiB), its result passed straight on.
class TightBounds : public Bounds {
 protected:
  TightBounds() {
    scripting::EngineConfig config;
    config.limits.max_memory_bytes = 40 << 20;
    config.limits.max_value_bytes = 16 << 20;
    engine_ = make_engine(config);
  }
};
TEST_F(TightBounds, FailuresPassedOnThroughEveryKindOfMember) {
  for (const char* body : {
           "string s; s.resize(16777214); res.text(s + 1.5);",                   // opAdd(double)
           "string s; s.resize(16777214); res.text(1.5 + s);",                   // opAdd_r(double)
           "string s; s.resize(16777214); res.text(s + true);",                  // opAdd(bool)
           "string s; s.resize(15000000); string t = s; res.text(s.substr(0));",  // substr
           "string s; s.resize(15000000); string t = s; res.text(string(s));",   // copy construction
           "string s; s.resize(15000000); string t = s; res.text(s + \"\");",     // opAdd(string)
           "res.text(formatInt(1, \"\", 4000000000));",                          // formatInt
           "res.text(formatFloat(1, \"\", 0, 4000000000));",                     // formatFloat
           "string s; s.resize(9000000); array<string> a = {s, s}; res.text(a[0] + a[1]);",
       }) {
    SCOPED_TRACE(body);
    expect_error(body, RunError::memory_limit, "");
  }
}
TEST_F(Bounds, AHugeFormatWidthIsRefused) {
  expect_error("res.text(formatInt(1, \"l\", 4000000000));", RunError::memory_limit, "larger than");
}

// The array add-on's constructor with a default value wrote through the
// buffer it could not get (over the single-value limit): a segmentation fault.
TEST_F(Bounds, AHugeArrayWithADefaultValue) {
  expect_error("array<string> ones(3000000, \"1\"); res.text(\"\" + ones.length());", RunError::memory_limit, "");
}

TEST_F(Bounds, JsonStringifyOfAHugeValue) {
  expect_error("string s; s.resize(3000000); json j = json::parse(\"[]\");\n"
               "for (int i = 0; i < 10; i++) j.push(s);\n"
               "res.text(json::stringify(j, true));",
               RunError::memory_limit, "");
}

}  // namespace
}  // namespace picloud::test
