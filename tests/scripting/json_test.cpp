// The script `json` type through the real engine: literals, int/float,
// parse and stringify, indexing, typed getters, equality, copies, the depth
// limit and bytes.
#include <string>

#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;

using JsonTest = ScriptTest;

// `n` nested arrays around `1`: "[[1]]" for n = 2.
std::string nested_arrays(int n) { return std::string(n, '[') + "1" + std::string(n, ']'); }

// --- literals ------------------------------------------------------------------

TEST_F(JsonTest, ValuesBecomeJsonWhereJsonIsExpected) {
  // json(x) for each scalar and array kind, and the same conversion where a
  // function takes a json (json::stringify here; plugins' functions alike).
  EXPECT_EQ(run("res.text(json(5).to_string() + \" \" + json(2.5).to_string() + \" \" + json(true).to_string() + \" \" +\n"
                "         json(\"x\").to_string() + \" \" + json(5).type() + \" \" + json(2.5).type());"),
            R"(5 2.5 true "x" int float)");
  EXPECT_EQ(run("array<string> s = {\"a\", \"b\"}; array<int> i = {1, 2}; array<double> d = {0.5};\n"
                "array<bool> b = {true}; array<uint8> raw = {1, 2, 255};\n"
                "res.text(json::stringify(\"text\") + \" \" + json::stringify(7) + \" \" + json::stringify(s) + \" \" +\n"
                "         json::stringify(i) + \" \" + json::stringify(d) + \" \" + json::stringify(b) + \" \" +\n"
                "         json(raw).type() + \" \" + json::stringify(raw));"),
            R"("text" 7 ["a","b"] [1,2] [0.5] [true] bytes "AQL/")");
  // Calls that already pass a json are unchanged, and setters still take scalars.
  EXPECT_EQ(run("json o = json::object(); o.set(\"n\", 7); o.set(\"s\", \"t\"); json v = o;\n"
                "res.text(json::stringify(v));"),
            R"({"n":7,"s":"t"})");
}

TEST_F(JsonTest, NestedObjectLiteralsNeedNoTypeName) {
  EXPECT_EQ(run("json inner = {{\"z\", 1}};\n"
                "json q = {{\"priority\", {{\"$gte\", 2}, {\"$lt\", 9}}}, {\"deep\", {{\"a\", {{\"b\", null}}}}},\n"
                "          {\"empty\", json::object()}, {\"copy\", inner}, {\"list\", array<json@> = {1, \"x\", null, {{\"k\", true}}}}};\n"
                "inner[\"z\"] = 2;\n"
                "res.text(q.to_string());"),
            R"({"copy":{"z":1},"deep":{"a":{"b":null}},"empty":{},"list":[1,"x",null,{"k":true}],"priority":{"$gte":2,"$lt":9}})");
}

TEST_F(JsonTest, ReadOnlyJsonFitsInALiteral) {
  // req.query and an index of a const json are const json@.
  EXPECT_EQ(run("const json@ h = req.headers;\n"
                "json q = {{\"query\", req.query}, {\"host\", h[\"host\"]}, {\"in\", {{\"params\", req.params}}}};\n"
                "res.text(q.to_string());"),
            R"({"host":null,"in":{"params":{}},"query":{}})");
}

TEST_F(JsonTest, AnArrayWrittenAsAnObjectLiteralSaysHowToWriteIt) {
  for (const char* literal : {"json e = {{\"tags\", {\"a\", \"b\"}}};", "json e = {1, 2};"}) {
    auto v = engine_->validate("app", scripting::ScriptKind::endpoint,
                               std::string("void handle(request@ req, response@ res) {\n  ") + literal + "\n}\n", source_);
    ASSERT_EQ(v.errors.size(), 1u) << literal;
    EXPECT_EQ(v.errors[0].line, 2);
    EXPECT_NE(v.errors[0].message.find("a json literal is a list of {key, value} pairs; write an array as array<json@> ="),
              std::string::npos)
        << v.errors[0].message;
  }
}

TEST_F(JsonTest, ObjectLiteral) {
  EXPECT_EQ(run("json o = {{\"a\", 1}, {\"b\", \"x\"}};\nres.text(o.to_string());"), R"({"a":1,"b":"x"})");
}

TEST_F(JsonTest, ObjectLiteralOfEveryScalarType) {
  EXPECT_EQ(run("json o = {{\"i\", 7}, {\"f\", 2.5}, {\"t\", true}, {\"n\", null}, {\"s\", \"str\"},\n"
                "          {\"neg\", -3}, {\"big\", int64(9007199254740993)}, {\"u8\", uint8(200)}};\n"
                "res.text(o.to_string());"),
            R"({"big":9007199254740993,"f":2.5,"i":7,"n":null,"neg":-3,"s":"str","t":true,"u8":200})");
}

TEST_F(JsonTest, ObjectLiteralWithStringVariables) {
  // Keys and values taken from variables rather than literals.
  EXPECT_EQ(run("string k = \"key\"; string v = \"value\"; int n = 42;\n"
                "json o = {{k, v}, {k + \"2\", n}};\n"
                "res.text(o.to_string());"),
            R"({"key":"value","key2":42})");
}

TEST_F(JsonTest, NestedObjectLiteral) {
  EXPECT_EQ(run("json o = {{\"outer\", json = {{\"inner\", json = {{\"x\", 1}}}, {\"y\", false}}}, {\"z\", 3}};\n"
                "res.text(o.to_string());"),
            R"({"outer":{"inner":{"x":1},"y":false},"z":3})");
}

TEST_F(JsonTest, ArrayValuesInLiteral) {
  EXPECT_EQ(run("json o = {{\"ints\", array<int> = {1, 2}}, {\"strs\", array<string> = {\"a\", \"b\"}},\n"
                "          {\"floats\", array<double> = {0.5, 1.0}}, {\"empty\", array<int> = {}}};\n"
                "res.text(o.to_string());"),
            R"({"empty":[],"floats":[0.5,1.0],"ints":[1,2],"strs":["a","b"]})");
}

TEST_F(JsonTest, NestedArraysInLiteral) {
  EXPECT_EQ(run("array<array<int>> grid = {{1, 2}, {3}};\n"
                "json o = {{\"grid\", grid}};\n"
                "res.text(o.to_string());"),
            R"({"grid":[[1,2],[3]]})");
}

TEST_F(JsonTest, JsonVariableInLiteralIsCopied) {
  EXPECT_EQ(run("json inner = {{\"v\", 1}};\n"
                "json o = {{\"a\", inner}, {\"b\", inner}};\n"
                "inner[\"v\"] = 2;\n"
                "o[\"a\"][\"v\"] = 3;\n"
                "res.text(o.to_string() + \" \" + inner.to_string());"),
            R"({"a":{"v":3},"b":{"v":1}} {"v":2})");
}

TEST_F(JsonTest, NullHandleInLiteralIsNull) {
  EXPECT_EQ(run("json@ nothing = null;\njson o = {{\"a\", nothing}};\nres.text(o.to_string());"), R"({"a":null})");
}

TEST_F(JsonTest, NullInLiteralFollowedByMoreEntries) {
  // The engine cleans the literal's buffer after the factory: entries after a
  // null must still be found (and destroyed) where they are.
  EXPECT_EQ(run("string result;\n"
                "for (int i = 0; i < 50; i++) {\n"
                "  json o = {{\"n\", null}, {\"a\", 1}, {\"s\", \"a string long enough to live on the heap\"},\n"
                "            {\"m\", null}, {\"arr\", array<int> = {1}}, {\"b\", true}, {\"t\", \"x\"}};\n"
                "  result = o.to_string();\n"
                "}\n"
                "res.text(result);"),
            R"({"a":1,"arr":[1],"b":true,"m":null,"n":null,"s":"a string long enough to live on the heap","t":"x"})");
}

TEST_F(JsonTest, UnsupportedValueInLiteralDoesNotCompile) {
  EXPECT_EQ(run("json o = {{\"n\", null}, {\"r\", res}, {\"a\", 1}, {\"s\", \"a string long enough to live on the heap\"}};"),
            "ERROR compile_error: main:2:30: Can't implicitly convert from 'response@&' to 'const json@'.");
  EXPECT_EQ(run("res.text(\"still alive\");"), "still alive");
}

TEST_F(JsonTest, DefaultConstructedIsNull) {
  EXPECT_EQ(run("json j;\nres.text(j.type() + \" \" + j.to_string() + \" \" + j.is_null());"), "null null true");
}

TEST_F(JsonTest, ArrayAndObjectFactories) {
  EXPECT_EQ(run("json a = json::array();\njson o = json::object();\n"
                "res.text(a.to_string() + o.to_string() + a.type() + o.type());"),
            "[]{}arrayobject");
}

// --- int and float ---------------------------------------------------------------

TEST_F(JsonTest, IntAndFloatStayApart) {
  EXPECT_EQ(run("json o = {{\"i\", 1}, {\"f\", 2.5}, {\"g\", 1.0}};\n"
                "res.text(o[\"i\"].type() + \" \" + o[\"f\"].type() + \" \" + o[\"g\"].type() + \" \" + o.to_string());"),
            R"(int float float {"f":2.5,"g":1.0,"i":1})");
}

TEST_F(JsonTest, AssignedNumbersKeepTheirKind) {
  EXPECT_EQ(run("json a; a = 3;\njson b; b = 3.0;\njson c; c = int64(-4);\njson d; d = 1.5f;\n"
                "res.text(a.to_string() + \" \" + b.to_string() + \" \" + c.to_string() + \" \" + d.to_string() +\n"
                "         \" \" + a.is_int() + b.is_float() + c.is_int() + d.is_float());"),
            "3 3.0 -4 1.5 truetruetruetrue");
}

TEST_F(JsonTest, ParsedNumbersKeepTheirKind) {
  EXPECT_EQ(run("json o = json::parse('{\"i\": 1, \"f\": 1.0, \"e\": 1e2, \"n\": -0.25, \"z\": 0}');\n"
                "res.text(o[\"i\"].type() + o[\"f\"].type() + o[\"e\"].type() + o[\"n\"].type() + o[\"z\"].type() +\n"
                "         \" \" + o.to_string());"),
            R"(intfloatfloatfloatint {"e":100.0,"f":1.0,"i":1,"n":-0.25,"z":0})");
}

TEST_F(JsonTest, LargeIntegersRoundTrip) {
  EXPECT_EQ(run("json o = json::parse('[9223372036854775807, -9223372036854775808, 9007199254740993]');\n"
                "res.text(o.to_string() + \" \" + o[0].type());"),
            "[9223372036854775807,-9223372036854775808,9007199254740993] int");
}

TEST_F(JsonTest, IntegersBeyondInt64ParseAsFloats) {
  // Valid JSON however large; beyond int64 an integer becomes a float.
  EXPECT_EQ(run("json n = json::parse('[9223372036854775808, 100000000000000000000, -9223372036854775809,\\n"
                "                       -9223372036854775808, 9223372036854775807, 123456789012345678901234567890]');\n"
                "string types;\nfor (uint i = 0; i < n.size(); i++) types += n[i].type() + \" \";\n"
                "res.text(types + (n[1].as_float() == 1e20) + \" \" + (n[2].as_float() < -9.2e18) + \" \" +\n"
                "         n[3].as_int() + \" \" + n[4].as_int());"),
            "float float float int int float true true -9223372036854775808 9223372036854775807");
}

TEST_F(JsonTest, LongDigitRunsInStringsAndKeysAreUntouched) {
  EXPECT_EQ(run("json o = json::parse('{\"100000000000000000000\": \"-99999999999999999999\", \"k\\\\\"1\": 1}');\n"
                "res.text(o.to_string());"),
            R"({"100000000000000000000":"-99999999999999999999","k\"1":1})");
}

TEST_F(JsonTest, IntegerAboveInt64BecomesFloat) {
  EXPECT_EQ(run("json o = json::parse('[18446744073709551615]');\nres.text(o[0].type());"), "float");
}

// --- parse and stringify -----------------------------------------------------------

TEST_F(JsonTest, ParseAndStringifyCompact) {
  EXPECT_EQ(run("json o = json::parse('{ \"b\" : [1, 2.5, \"x\", true, false, null], \"a\": {\"c\": {}} , \"d\": []}');\n"
                "res.text(o.to_string());"),
            R"({"a":{"c":{}},"b":[1,2.5,"x",true,false,null],"d":[]})");
}

TEST_F(JsonTest, StringifyPretty) {
  EXPECT_EQ(run("json o = json::parse('{\"b\": [1, {\"c\": null}], \"a\": \"x\", \"e\": [], \"o\": {}}');\n"
                "res.text(o.to_string(true));"),
            "{\n"
            "  \"a\": \"x\",\n"
            "  \"b\": [\n"
            "    1,\n"
            "    {\n"
            "      \"c\": null\n"
            "    }\n"
            "  ],\n"
            "  \"e\": [],\n"
            "  \"o\": {}\n"
            "}");
}

TEST_F(JsonTest, StringifyPrettyScalarsAndEmpty) {
  EXPECT_EQ(run("json n; json i = 1; json a = json::array(); json o = json::object();\n"
                "res.text(n.to_string(true) + \" \" + i.to_string(true) + \" \" + a.to_string(true) + \" \" + o.to_string(true));"),
            "null 1 [] {}");
}

// The method is to_string() so that it does not hide json::stringify.
TEST_F(JsonTest, NamespaceStringifyMatchesMethod) {
  EXPECT_EQ(run("json o = {{\"a\", array<int> = {1}}};\n"
                "res.text((o.to_string() == json::stringify(o)) + \" \" + (o.to_string(true) == json::stringify(o, true)));"),
            "true true");
}

TEST_F(JsonTest, ParseTopLevelScalars) {
  // RFC 8259: any value may be the whole text.
  EXPECT_EQ(run("res.text(json::parse('42').type() + json::parse('4.5').type() + json::parse('\"s\"').type() +\n"
                "         json::parse('true').type() + json::parse('null').type());"),
            "intfloatstringboolnull");
  EXPECT_EQ(run("res.text(json::parse(' \\n -7 \\t').to_string() + \" \" + json::parse('\"\\\\u00e9\"').as_string() + \" \" +\n"
                "         json::parse('false').to_string() + \" \" + json::parse('1e3').to_string());"),
            "-7 \xC3\xA9 false 1000.0");
}

TEST_F(JsonTest, StringEscapesRoundTrip) {
  EXPECT_EQ(run("json o = json::parse('{\"s\": \"q\\\\\"b\\\\\\\\n\\\\n\\\\t\\\\u00e9\\\\u0001\"}');\n"
                "string s = o[\"s\"].as_string();\n"
                "res.text(s.length() + \" \" + o.to_string());"),
            // q " b \ n newline tab é(2 bytes) \x01
            "10 {\"s\":\"q\\\"b\\\\n\\n\\t\xC3\xA9\\u0001\"}");
}

TEST_F(JsonTest, StringifyEscapesControlCharacters) {
  EXPECT_EQ(run("json j = \"a\\\"b\\\\c\\nd\\re\\tf\" + \"\\x01\";\nres.text(j.to_string());"),
            R"("a\"b\\c\nd\re\tf\u0001")");
}

TEST_F(JsonTest, NonFiniteFloatStringifiesAsNull) {
  EXPECT_EQ(run("double big = 1e308;\nbig *= 10;\njson a = {{\"inf\", big}};\nres.text(a.to_string());"), R"({"inf":null})");
}

TEST_F(JsonTest, MalformedJsonThrowsCatchable) {
  for (const char* bad : {"{", "{\"a\":}", "[1, 2", "{\"a\" 1}", "nul", "{'a': 1}", "[1,]", "{\"a\":1,}", "01",
                          "", "   ", "\"unterminated", "{\"a\":1} trailing", "[1] [2]", "NaN", "tru", "1.", ".5", "+1",
                          "1e", "0x10", "'s'", "1 2", "1,2", "\"a\" \"b\"", "1]", "1],[2", "[1]]", "Infinity",
                          "-", "\"a\",", "null null"}) {
    std::string text = bad;
    std::string escaped;
    for (char c : text) {
      if (c == '\\' || c == '"') escaped.push_back('\\');
      escaped.push_back(c);
    }
    std::string got = caught("json j = json::parse(\"" + escaped + "\");");
    EXPECT_EQ(got.rfind("caught: json: invalid JSON", 0), 0u) << "input: " << text << " gave: " << got;
  }
}

TEST_F(JsonTest, UncaughtParseErrorFailsTheRunWithTheMessage) {
  auto r = run_script(*engine_, source_,
                      "void handle(request@ req, response@ res) {\n  json j = json::parse(\"{oops\");\n}\n");
  EXPECT_EQ(r.error, RunError::script_error);
  EXPECT_NE(r.message.find("json: invalid JSON"), std::string::npos) << r.message;
  EXPECT_EQ(r.status(), 502);
}

TEST_F(JsonTest, EngineStillWorksAfterParseError) {
  EXPECT_EQ(caught("json::parse(\"[\");").rfind("caught: json", 0), 0u);
  EXPECT_EQ(run("res.text(json::parse('[1]').to_string());"), "[1]");
}

// --- indexing ------------------------------------------------------------------

TEST_F(JsonTest, IndexByKey) {
  EXPECT_EQ(run("json o = {{\"a\", 1}, {\"b\", \"x\"}};\nres.text(o[\"a\"].as_int() + o[\"b\"].as_string());"), "1x");
}

TEST_F(JsonTest, IndexByPosition) {
  EXPECT_EQ(run("json a = json::parse('[10, \"x\", [5, 6]]');\n"
                "res.text(a[0].as_int() + a[1].as_string() + a[2][1].as_int() + \" \" + a.size());"),
            "10x6 3");
}

TEST_F(JsonTest, PositionOutOfRangeThrows) {
  EXPECT_EQ(caught("json a = json::parse('[1, 2]');\njson@ x = a[2];"),
            "caught: json: index 2 out of range (size 2)");
  EXPECT_EQ(caught("json a = json::parse('[1, 2]');\njson@ x = a[-1];"),
            "caught: json: index -1 out of range (size 2)");
  EXPECT_EQ(caught("json a = json::array();\njson@ x = a[0];"), "caught: json: index 0 out of range (size 0)");
}

TEST_F(JsonTest, PositionOnNonArrayThrows) {
  EXPECT_EQ(caught("json o = {{\"a\", 1}};\njson@ x = o[0];"), "caught: json: cannot index object by position");
}

TEST_F(JsonTest, KeyOnScalarThrows) {
  EXPECT_EQ(caught("json n = 5;\njson@ x = n[\"a\"];"), "caught: json: cannot index int by key \"a\"");
  EXPECT_EQ(caught("json a = json::array();\njson@ x = a[\"a\"];"), "caught: json: cannot index array by key \"a\"");
}

TEST_F(JsonTest, ReadingMissingKeyDoesNotAddIt) {
  EXPECT_EQ(run("json o = {{\"a\", 1}};\n"
                "bool missing = o[\"x\"].is_null();\n"
                "int64 v = o[\"x\"][\"y\"].as_int(7);\n"
                "res.text(missing + \" \" + v + \" \" + o.has(\"x\") + \" \" + o.size() + \" \" + o.to_string());"),
            R"(true 7 false 1 {"a":1})");
}

TEST_F(JsonTest, ReadingMissingKeyOfNullDoesNotMakeItAnObject) {
  EXPECT_EQ(run("json n;\nbool b = n[\"x\"].is_null();\nres.text(n.type() + \" \" + n.to_string());"), "null null");
}

TEST_F(JsonTest, ComparingMissingKeyDoesNotAddIt) {
  EXPECT_EQ(run("json o = json::object();\nbool eq = o[\"x\"] == 1;\nres.text(eq + \" \" + o.to_string());"),
            "false {}");
}

TEST_F(JsonTest, WritingThroughMissingKeysCreatesThem) {
  EXPECT_EQ(run("json o;\no[\"a\"][\"b\"] = 1;\no[\"a\"][\"c\"][\"d\"] = \"deep\";\no[\"e\"] = 2.5;\n"
                "res.text(o.to_string());"),
            R"({"a":{"b":1,"c":{"d":"deep"}},"e":2.5})");
}

TEST_F(JsonTest, PlaceholderHandleJoinsOnlyWhenWritten) {
  EXPECT_EQ(run("json o = json::object();\n"
                "json@ p = o[\"later\"];\n"
                "string before = o.to_string();\n"
                "p = true;\n"
                "res.text(before + \" \" + o.to_string());"),
            R"({} {"later":true})");
}

TEST_F(JsonTest, TwoHandlesOnTheSameMissingKeyKeepBothWrites) {
  EXPECT_EQ(run("json o;\n"
                "json@ host = o[\"db\"][\"host\"];\njson@ port = o[\"db\"][\"port\"];\njson@ tags = o[\"db\"][\"tags\"];\n"
                "host = \"localhost\";\nport = 5432;\ntags.push(\"a\");\n"
                "res.text(o.to_string() + \" \" + host.as_string());"),
            R"({"db":{"host":"localhost","port":5432,"tags":["a"]}} localhost)");
}

TEST_F(JsonTest, HandleOnMissingKeyAfterTheKeyWasSet) {
  // The later write to the same key wins; writing below a scalar throws.
  EXPECT_EQ(run("json o;\njson@ p = o[\"x\"];\no[\"x\"] = 1;\np = 2;\n"
                "json@ deep = o[\"y\"][\"z\"];\no.set(\"y\", 5);\nstring error;\n"
                "try { deep = 1; } catch { error = getExceptionInfo(); }\n"
                "res.text(o.to_string() + \" \" + error);"),
            R"({"x":2,"y":5} json: cannot set a key on int)");
}

TEST_F(JsonTest, IndexReturnsTheStoredChild) {
  EXPECT_EQ(run("json o = {{\"a\", json = {{\"b\", 1}}}};\n"
                "json@ child = o[\"a\"];\n"
                "child[\"b\"] = 2;\n"
                "child.set(\"c\", 3);\n"
                "res.text(o.to_string());"),
            R"({"a":{"b":2,"c":3}})");
}

TEST_F(JsonTest, WritingThroughArrayPosition) {
  EXPECT_EQ(run("json a = json::parse('[{\"x\": 1}, 2]');\na[0][\"x\"] = \"one\";\na[1] = json::parse('[true]');\n"
                "res.text(a.to_string());"),
            R"([{"x":"one"},[true]])");
}

TEST_F(JsonTest, SetKeyOnScalarThrows) {
  EXPECT_EQ(caught("json s = \"text\";\ns.set(\"a\", 1);"), "caught: json: cannot set a key on string");
}

// --- typed getters -----------------------------------------------------------------

TEST_F(JsonTest, AsGettersReturnValues) {
  EXPECT_EQ(run("json o = json::parse('{\"i\": 5, \"f\": 2.5, \"s\": \"x\", \"b\": true, \"w\": 3.0}');\n"
                "res.text(o[\"i\"].as_int() + \" \" + o[\"f\"].as_float() + \" \" + o[\"s\"].as_string() + \" \" +\n"
                "         o[\"b\"].as_bool() + \" \" + o[\"i\"].as_float() + \" \" + o[\"w\"].as_int());"),
            "5 2.5 x true 5 3");
}

TEST_F(JsonTest, AsGettersFallBackOnWrongType) {
  EXPECT_EQ(run("json o = json::parse('{\"i\": 5, \"f\": 2.5, \"s\": \"7\", \"b\": true}');\n"
                "res.text(o[\"s\"].as_int(-1) + \" \" + o[\"f\"].as_int(-2) + \" \" + o[\"s\"].as_float(0.5) + \" \" +\n"
                "         o[\"i\"].as_string(\"fb\") + \" \" + o[\"i\"].as_bool(true) + \" \" + o[\"b\"].as_int(9) + \" \" +\n"
                "         o[\"missing\"].as_string(\"none\") + \" \" + o[\"s\"].as_int());"),
            "-1 -2 0.5 fb true 9 none 0");
}

TEST_F(JsonTest, GetGettersByKey) {
  EXPECT_EQ(run("json o = json::parse('{\"i\": 5, \"f\": 2.5, \"s\": \"x\", \"b\": false}');\n"
                "res.text(o.get_int(\"i\") + \" \" + o.get_float(\"f\") + \" \" + o.get_string(\"s\") + \" \" +\n"
                "         o.get_bool(\"b\", true) + \" \" + o.get_int(\"f\", 11) + \" \" + o.get_float(\"i\"));"),
            "5 2.5 x false 11 5");
}

TEST_F(JsonTest, GetGettersDefaults) {
  EXPECT_EQ(run("json o = json::parse('{\"s\": \"x\"}');\n"
                "res.text(o.get_int(\"no\", 3) + \" \" + o.get_float(\"no\", 1.5) + \" \" + o.get_string(\"no\", \"d\") +\n"
                "         \" \" + o.get_bool(\"no\", true) + \" \" + o.get_int(\"no\") + \" \" + o.get_string(\"no\") + \"|\" +\n"
                "         o.get_int(\"s\", 4) + \" \" + o.get_bool(\"s\", true) + \" \" + o.to_string());"),
            R"(3 1.5 d true 0 |4 true {"s":"x"})");
}

TEST_F(JsonTest, GetGettersOnNonObjectReturnDefaults) {
  EXPECT_EQ(run("json a = json::parse('[1]');\njson n;\n"
                "res.text(a.get_int(\"0\", 8) + \" \" + n.get_string(\"k\", \"d\") + \" \" + a.has(\"0\"));"),
            "8 d false");
}

TEST_F(JsonTest, HasSizeKeys) {
  EXPECT_EQ(run("json o = json::parse('{\"b\": 1, \"a\": null, \"c\": [1, 2, 3]}');\n"
                "array<string>@ ks = o.keys();\njson hello = \"hello\";\n"
                "string joined = join(ks, \",\");\n"
                "res.text(o.has(\"a\") + \" \" + o.has(\"z\") + \" \" + o.size() + \" \" + o[\"c\"].size() + \" \" +\n"
                "         joined + \" \" + hello.size() + \" \" + json::array().keys().length());"),
            "true false 3 3 a,b,c 5 0");
}

TEST_F(JsonTest, SizeOfScalarsIsZero) {
  EXPECT_EQ(run("json n; json i = 5; json b = true;\nres.text(n.size() + \" \" + i.size() + \" \" + b.size());"),
            "0 0 0");
}

TEST_F(JsonTest, Remove) {
  EXPECT_EQ(run("json o = {{\"a\", 1}, {\"b\", 2}};\n"
                "bool r1 = o.remove(\"a\");\nbool r2 = o.remove(\"a\");\njson s = 1;\nbool r3 = s.remove(\"a\");\n"
                "res.text(r1 + \" \" + r2 + \" \" + r3 + \" \" + o.to_string());"),
            R"(true false false {"b":2})");
}

TEST_F(JsonTest, PushBuildsArrays) {
  EXPECT_EQ(run("json a;\na.push(1);\na.push(2.5);\na.push(true);\na.push(\"s\");\n"
                "json o = {{\"k\", 1}};\na.push(o);\no[\"k\"] = 2;\n"
                "a.push(json::array()).push(json());\n"
                "res.text(a.to_string() + \" \" + a.size());"),
            R"([1,2.5,true,"s",{"k":1},[],null] 7)");
}

TEST_F(JsonTest, PushOntoObjectThrows) {
  EXPECT_EQ(caught("json o = json::object();\no.push(1);"), "caught: json: cannot push onto object");
}

TEST_F(JsonTest, SetBuildsObjectsAndChains) {
  EXPECT_EQ(run("json o;\no.set(\"i\", 1).set(\"f\", 0.5).set(\"b\", false).set(\"s\", \"x\");\n"
                "json sub = {{\"z\", 0}};\no.set(\"sub\", sub);\nsub[\"z\"] = 1;\no.set(\"i\", 2);\n"
                "res.text(o.to_string());"),
            R"({"b":false,"f":0.5,"i":2,"s":"x","sub":{"z":0}})");
}

TEST_F(JsonTest, TypePredicates) {
  EXPECT_EQ(run("json o = json::parse('[null, true, 1, 1.5, \"s\", [], {}]');\nstring result;\n"
                "for (uint i = 0; i < o.size(); i++) {\n"
                "  const json@ v = o[i];\n"
                "  result += (v.is_null() ? \"N\" : \"\") + (v.is_bool() ? \"B\" : \"\") + (v.is_int() ? \"I\" : \"\") +\n"
                "         (v.is_float() ? \"F\" : \"\") + (v.is_number() ? \"#\" : \"\") + (v.is_string() ? \"S\" : \"\") +\n"
                "         (v.is_array() ? \"A\" : \"\") + (v.is_object() ? \"O\" : \"\") + (v.is_bytes() ? \"Y\" : \"\") + \" \";\n"
                "}\nres.text(result);"),
            "N B I# F# S A O ");
}

// --- equality ------------------------------------------------------------------

TEST_F(JsonTest, EqualityWithScalars) {
  EXPECT_EQ(run("json i = 1; json f = 1.0; json h = 2.5; json s = \"x\"; json b = true; json n;\n"
                "res.text((i == 1) + \" \" + (i == 1.0) + \" \" + (f == 1) + \" \" + (h == 2.5) + \" \" + (h == 2) + \" \" +\n"
                "         (s == \"x\") + \" \" + (s == \"y\") + \" \" + (b == true) + \" \" + (b == false) + \" \" +\n"
                "         (i == \"1\") + \" \" + (s == 1) + \" \" + (b == 1) + \" \" + (n == 0) + \" \" + (i != 2));"),
            "true true true true false true false true false false false false false true");
}

TEST_F(JsonTest, EqualityBetweenJsonValues) {
  EXPECT_EQ(run("json a = json::parse('{\"x\": [1, 2.0, {\"y\": \"z\"}], \"n\": null}');\n"
                "json b = json::parse('{\"n\": null, \"x\": [1.0, 2, {\"y\": \"z\"}]}');\n"
                "json c = json::parse('{\"n\": null, \"x\": [1, 2, {\"y\": \"Z\"}]}');\n"
                "json d = json::parse('{\"n\": null, \"x\": [1, 2]}');\n"
                "json e = json::parse('{\"m\": null, \"x\": [1.0, 2, {\"y\": \"z\"}]}');\n"
                "json one = 1; json onef = 1.0; json t = true; json str = \"1\";\n"
                "res.text((a == b) + \" \" + (a == c) + \" \" + (a == d) + \" \" + (a == e) + \" \" + (one == onef) + \" \" +\n"
                "         (one == t) + \" \" + (one == str) + \" \" + (json() == json()) + \" \" + (a != c));"),
            "true false false false true false false true true");
}

TEST_F(JsonTest, LargeIntegersCompareExactly) {
  // 2^53 + 1 and 2^53 are different integers even though they share a double.
  EXPECT_EQ(run("json a = int64(9007199254740993); json b = int64(9007199254740992);\n"
                "res.text((a == b) + \" \" + (a == int64(9007199254740993)) + \" \" + (a == int64(9007199254740992)));"),
            "false true false");
}

// --- copies ------------------------------------------------------------------

TEST_F(JsonTest, AssignmentCopies) {
  EXPECT_EQ(run("json a = {{\"x\", json = {{\"y\", 1}}}};\njson b = a;\nb[\"x\"][\"y\"] = 2;\nb[\"new\"] = true;\n"
                "json c;\nc = a;\na[\"x\"] = 0;\n"
                "res.text(a.to_string() + \" \" + b.to_string() + \" \" + c.to_string());"),
            R"({"x":0} {"new":true,"x":{"y":2}} {"x":{"y":1}})");
}

TEST_F(JsonTest, AssignChildIntoParentCopies) {
  EXPECT_EQ(run("json a = {{\"x\", json = {{\"y\", 1}}}};\na[\"copy\"] = a[\"x\"];\na[\"copy\"][\"y\"] = 5;\n"
                "res.text(a.to_string());"),
            R"({"copy":{"y":5},"x":{"y":1}})");
}

TEST_F(JsonTest, AssignParentIntoChildCopiesWithoutCycle) {
  EXPECT_EQ(run("json a = {{\"v\", 1}};\na[\"self\"] = a;\na[\"self\"][\"self\"] = a;\n"
                "res.text(a.to_string());"),
            R"({"self":{"self":{"self":{"v":1},"v":1},"v":1},"v":1})");
}

TEST_F(JsonTest, AssignNodeToItsOwnChild) {
  EXPECT_EQ(run("json a = {{\"x\", json = {{\"y\", 1}}}};\na = a[\"x\"];\nres.text(a.to_string());"), R"({"y":1})");
}

TEST_F(JsonTest, HandlesAlias) {
  // A handle is the same value, not a copy.
  EXPECT_EQ(run("json a = {{\"x\", 1}};\njson@ h = a;\nh[\"x\"] = 2;\nres.text(a.to_string() + \" \" + (h is a));"),
            R"({"x":2} true)");
}

TEST_F(JsonTest, ParsedValueIsIndependentOfSource) {
  EXPECT_EQ(run("json@ p = json::parse('{\"a\": 1}');\njson copy = p;\np[\"a\"] = 2;\n"
                "res.text(copy.to_string() + p.to_string());"),
            R"({"a":1}{"a":2})");
}

// --- depth limit ---------------------------------------------------------------

TEST_F(JsonTest, ParseAtTheDepthLimitWorks) {
  // The innermost value sits at depth 64: allowed.
  EXPECT_EQ(run("json j = json::parse(\"" + nested_arrays(64) + "\");\nres.text(j.to_string());"), nested_arrays(64));
}

TEST_F(JsonTest, ParseDeeperThanTheLimitIsRefused) {
  std::string got = caught("json j = json::parse(\"" + nested_arrays(65) + "\");");
  EXPECT_EQ(got.rfind("caught: json: ", 0), 0u) << got;
  EXPECT_NE(got.find("64"), std::string::npos) << got;
}

TEST_F(JsonTest, ParseVeryDeepNestingDoesNotCrash) {
  // A hostile document: far deeper than any stack would take recursively.
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  std::string deep_objects;
  for (int i = 0; i < 50000; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(50000, '}');
  for (const auto& text : {deep, deep_objects}) {
    std::string got = caught("json j = json::parse(\"" + [&] {
      std::string e;
      for (char c : text) {
        if (c == '"') e.push_back('\\');
        e.push_back(c);
      }
      return e;
    }() + "\");");
    EXPECT_EQ(got.rfind("caught: json: ", 0), 0u) << got.substr(0, 200);
  }
  EXPECT_EQ(run("res.text(\"still alive\");"), "still alive");
}

TEST_F(JsonTest, BuildingDeepByIndexIsRefused) {
  std::string got = run("json root;\njson@ cur = root;\nint reached = 0;\nstring error;\n"
                        "try {\n"
                        "  for (int i = 0; i < 200; i++) { @cur = cur[\"k\"]; reached = i + 1; }\n"
                        "} catch { error = getExceptionInfo(); }\n"
                        "cur = 1;\n"
                        "res.text(reached + \" \" + error);");
  EXPECT_EQ(got, "64 json: nesting deeper than 64 levels");
}

TEST_F(JsonTest, BuildingDeepByIndexKeepsTheTreeUsable) {
  EXPECT_EQ(run("json root;\njson@ cur = root;\n"
                "try { for (int i = 0; i < 200; i++) @cur = cur[\"k\"]; } catch {}\n"
                "cur = 1;\n"
                "int depth = 0;\nconst json@ walk = root;\n"
                "while (walk.is_object()) { @walk = walk[\"k\"]; depth++; }\n"
                "res.text(depth + \" \" + walk.as_int());"),
            "64 1");
}

TEST_F(JsonTest, BuildingDeepByCopyIsRefused) {
  std::string got = run("json j = 1;\nint levels = 0;\nstring error;\n"
                        "try {\n"
                        "  for (int i = 0; i < 1000; i++) { json w; w.set(\"a\", j); j = w; levels++; }\n"
                        "} catch { error = getExceptionInfo(); }\n"
                        "res.text(levels + \" \" + error);");
  EXPECT_EQ(got, "64 json: nesting deeper than 64 levels");
}

TEST_F(JsonTest, BuildingDeepByPushIsRefused) {
  std::string got = run("json j = json::array();\nint levels = 0;\nstring error;\n"
                        "try {\n"
                        "  for (int i = 0; i < 1000; i++) { json w = json::array(); w.push(j); j = w; levels++; }\n"
                        "} catch { error = getExceptionInfo(); }\n"
                        "res.text(levels + \" \" + error);");
  EXPECT_EQ(got, "64 json: nesting deeper than 64 levels");
}

TEST_F(JsonTest, BuildingDeepByLiteralIsRefused) {
  std::string got = run("json j = 1;\nint levels = 0;\nstring error;\n"
                        "try {\n"
                        "  for (int i = 0; i < 1000; i++) { json w = {{\"a\", j}}; j = w; levels++; }\n"
                        "} catch { error = getExceptionInfo(); }\n"
                        "res.text(levels + \" \" + error);");
  EXPECT_EQ(got, "64 json: nesting deeper than 64 levels");
}

TEST_F(JsonTest, BuildingDeepByAssignmentIsRefused) {
  std::string got = run("json j = 1;\nint levels = 0;\nstring error;\n"
                        "try {\n"
                        "  for (int i = 0; i < 1000; i++) { json w; w[\"a\"] = j; j = w; levels++; }\n"
                        "} catch { error = getExceptionInfo(); }\n"
                        "res.text(levels + \" \" + error);");
  EXPECT_EQ(got, "64 json: nesting deeper than 64 levels");
}

TEST_F(JsonTest, UncaughtDepthErrorFailsTheRun) {
  auto r = run_script(*engine_, source_,
                      "void handle(request@ req, response@ res) {\n"
                      "  json j = 1;\n"
                      "  for (int i = 0; i < 1000; i++) { json w; w.set(\"a\", j); j = w; }\n"
                      "}\n");
  EXPECT_EQ(r.error, RunError::script_error);
  EXPECT_NE(r.message.find("nesting deeper than 64 levels"), std::string::npos) << r.message;
}

TEST(JsonDepthLimit, FollowsTheConfiguredLimit) {
  scripting::EngineConfig config;
  config.limits.max_json_depth = 5;
  auto engine = make_engine(config);
  MemorySource source;
  EXPECT_EQ(body_of(*engine, source, "res.text(json::parse(\"" + nested_arrays(5) + "\").to_string());"),
            nested_arrays(5));
  std::string got = body_of(*engine, source,
                            "string result = \"no exception\";\n"
                            "try { json::parse(\"" +
                                nested_arrays(6) +
                                "\"); } catch { result = getExceptionInfo(); }\n"
                                "res.text(result);");
  EXPECT_EQ(got.rfind("json: ", 0), 0u) << got;
  EXPECT_EQ(body_of(*engine, source,
                    "json j = 1;\nint levels = 0;\n"
                    "try { for (int i = 0; i < 100; i++) { json w; w.set(\"a\", j); j = w; levels++; } } catch {}\n"
                    "res.text(\"\" + levels);"),
            "5");
}

// --- bytes ------------------------------------------------------------------------

TEST(JsonBytes, BytesStringifyAsBase64) {
  auto engine = make_engine();
  MemorySource source;
  source.put_script("app", "ev",
                    "void on_event(event@ e) {\n"
                    "  const json@ d = e.data;\n"
                    "  log::info(d[\"bin\"].type() + \" \" + d[\"bin\"].is_bytes() + \" \" + d[\"bin\"].size());\n"
                    "  log::info(d.to_string());\n"
                    "  json copy = d;\n"
                    "  log::info(copy[\"bin\"].type() + \" \" + copy[\"empty\"].to_string() + \" \" + copy[\"two\"].to_string());\n"
                    "}\n");
  sdk::Value event = sdk::Value::object({{"source", "test"},
                                         {"bin", sdk::Value(sdk::Bytes{'f', 'o', 'o', 'b', 'a', 'r'})},
                                         {"empty", sdk::Value(sdk::Bytes{})},
                                         {"two", sdk::Value(sdk::Bytes{0xff, 0x00})}});
  auto r = engine->run_event({"app", "ev", 1}, source, {}, event);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(r.logs.size(), 3u);
  EXPECT_EQ(r.logs[0].message, "bytes true 6");
  EXPECT_EQ(r.logs[1].message, R"({"bin":"Zm9vYmFy","empty":"","source":"test","two":"/wA="})");
  EXPECT_EQ(r.logs[2].message, R"(bytes "" "/wA=")");
}

}  // namespace
}  // namespace picloud::test

namespace picloud::test {
namespace {

TEST_F(JsonTest, BytesGoInAndOut) {
  EXPECT_EQ(run("array<uint8> raw = {0, 255, 16};\n"
                "json o = {{\"blob\", json::bytes(raw)}};\n"
                "array<uint8>@ back = o[\"blob\"].as_bytes();\n"
                "json n = 5;\n"
                "res.text(o.to_string() + \" \" + o[\"blob\"].type() + \" \" + back.length() + \" \" + back[1] + \" \" +\n"
                "         n.as_bytes().length());"),
            R"({"blob":"AP8Q"} bytes 3 255 0)");
}

}  // namespace
}  // namespace picloud::test
