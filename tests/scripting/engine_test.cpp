// The engine end to end: entry points, limits, errors, caching, modules.
#include "harness.hpp"

namespace picloud::test {
namespace {

using scripting::RunError;

TEST(Engine, HelloWorld) {
  auto engine = make_engine();
  MemorySource source;
  auto r = run_script(*engine, source, "void handle(request@ req, response@ res) {\n  res.text(\"Hello, world!\");\n}\n");
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.response.body, "Hello, world!");
}

}  // namespace
}  // namespace picloud::test
