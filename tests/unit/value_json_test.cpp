#include <gtest/gtest.h>

#include "picloud/sdk/json.hpp"
#include "picloud/sdk/value.hpp"

using namespace picloud::sdk;

TEST(Value, KeepsIntegersAndFloatsApart) {
  EXPECT_TRUE(Value(1).is_int());
  EXPECT_TRUE(Value(std::int64_t{1} << 60).is_int());
  EXPECT_TRUE(Value(1.0).is_float());
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_EQ(to_json(Value(3)), "3");
  EXPECT_EQ(to_json(Value(3.0)), "3.0");
  EXPECT_EQ(to_json(Value(0.1)), "0.1");
  EXPECT_EQ(to_json(Value(9007199254740993LL)), "9007199254740993");
}

TEST(Value, ObjectsArraysAndLookups) {
  Value v = Value::object({{"name", "ann"}, {"tags", Value::array({1, "x", nullptr})}});
  EXPECT_EQ(v["name"].as_string(), "ann");
  EXPECT_TRUE(v["missing"].is_null());
  EXPECT_EQ(v["tags"].size(), 3u);
  EXPECT_TRUE(v["tags"][2].is_null());
  EXPECT_TRUE(v["tags"][99].is_null());
  EXPECT_TRUE(v.has("tags"));
  EXPECT_EQ(v["name"].int_or(7), 7);
  v.set("n", 1).set("m", true);
  EXPECT_EQ(v.size(), 4u);
  Value list;
  list.push(1).push(2);
  EXPECT_EQ(to_json(list), "[1,2]");
}

TEST(Json, EscapesAndEncodes) {
  EXPECT_EQ(to_json(Value("a\"b\\c\n\x01")), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(to_json(Value(Bytes{'h', 'i', '!'})), R"("aGkh")");
  EXPECT_EQ(to_json(Value(Bytes{'h', 'i'})), R"("aGk=")");
  EXPECT_EQ(to_json(Value(Bytes{'h'})), R"("aA==")");
  EXPECT_EQ(to_json(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(to_json(Value::object({{"b", 1}, {"a", Value::object()}})), R"({"a":{},"b":1})");
  EXPECT_EQ(to_json(Value()), "null");
  EXPECT_EQ(to_json(Value(false)), "false");
}
