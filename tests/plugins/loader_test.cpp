// The plugin loader and host with real .so files built for these tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kernel/config.hpp"
#include "kernel/http/router.hpp"
#include "kernel/plugins/host.hpp"
#include "kernel/plugins/loader.hpp"
#include "support.hpp"

using namespace picloud;
using namespace picloud::kernel;

// The kernel's ABI as the loader prints it.
const std::string kKernelAbi =
    std::to_string(PICLOUD_SDK_ABI_MAJOR) + "." + std::to_string(PICLOUD_SDK_ABI_MINOR);

namespace {

std::string plugin(const std::string& name) { return test::test_plugin_dir() + "/" + name + ".so"; }

std::string load_error(const std::string& name) {
  auto r = plugins::load_plugin(plugin(name));
  return r.ok() ? "" : r.error().message;
}

}  // namespace

TEST(Loader, LoadsAGoodPluginAndReadsItsDescriptor) {
  auto p = plugins::load_plugin(plugin("t_good"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->name, "t_good");
  EXPECT_EQ(p->version, "1.2.3");
  EXPECT_EQ(p->provides, std::vector<std::string>{"greeter"});
  EXPECT_TRUE(p->depends.empty());
  EXPECT_EQ(plugins::abi_version_text(p->descriptor->abi), kKernelAbi);
  auto d = plugins::load_plugin(plugin("t_dependent"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->depends, std::vector<std::string>{"t_good"});
}

TEST(Loader, RefusesAnAbiMajorMismatchNamingFileAndBothVersions) {
  std::string e = load_error("t_abi_major");
  EXPECT_NE(e.find("t_abi_major.so"), std::string::npos) << e;
  EXPECT_NE(e.find("built for SDK ABI " + std::to_string(PICLOUD_SDK_ABI_MAJOR + 1) + ".0"), std::string::npos) << e;
  EXPECT_NE(e.find("this kernel provides ABI " + kKernelAbi), std::string::npos) << e;
}

TEST(Loader, RefusesANewerMinor) {
  std::string e = load_error("t_abi_minor");
  EXPECT_NE(e.find("t_abi_minor.so needs SDK ABI " + std::to_string(PICLOUD_SDK_ABI_MAJOR) + "." +
                   std::to_string(PICLOUD_SDK_ABI_MINOR + 1)),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("newer than this kernel's ABI " + kKernelAbi), std::string::npos) << e;
}

TEST(Loader, RefusesAPluginBuiltWithTheAbi1Sdk) {
  std::string e = load_error("t_abi1");
  EXPECT_NE(e.find("t_abi1.so was built for SDK ABI 1.5"), std::string::npos) << e;
  EXPECT_NE(e.find("this kernel provides ABI " + kKernelAbi), std::string::npos) << e;
}

TEST(Loader, RefusesMissingFileMissingSymbolAndGarbage) {
  std::string missing = load_error("t_does_not_exist");
  EXPECT_NE(missing.find("t_does_not_exist.so does not exist"), std::string::npos) << missing;

  std::string nosym = load_error("t_no_symbol");
  EXPECT_NE(nosym.find("does not export picloud_plugin "), std::string::npos) << nosym;

  test::TempDir dir;
  dir.write("junk.so", "this is not an ELF file");
  auto junk = plugins::load_plugin(dir.file("junk.so"));
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.error().message.find("junk.so is not an ELF shared object"), std::string::npos) << junk.error().message;

  std::string misnamed = load_error("t_misnamed");
  EXPECT_NE(misnamed.find("must be called t_other.so"), std::string::npos) << misnamed;
}

// --- checked from the file, before any plugin code runs ---------------------

// Loads `name` with PICLOUD_TEST_MARKER_DIR set and answers the error (empty
// when it loaded) and whether its static constructor ran.
struct Attempt {
  std::string error;
  bool ran = false;
};
Attempt attempt(const std::string& name) {
  test::TempDir markers;
  setenv("PICLOUD_TEST_MARKER_DIR", markers.path().c_str(), 1);
  auto r = plugins::load_plugin(plugin(name));
  unsetenv("PICLOUD_TEST_MARKER_DIR");
  return {r.ok() ? "" : r.error().message, std::filesystem::exists(markers.file(name + ".ran"))};
}

TEST(LoaderBeforeLoading, RefusalsComeBeforeAnyOfThePluginsCodeRuns) {
  for (const char* name : {"t_abi_major", "t_abi_minor", "t_abi1", "t_section_malformed"}) {
    Attempt a = attempt(name);
    EXPECT_FALSE(a.error.empty()) << name;
    EXPECT_FALSE(a.ran) << name << " ran before it was refused: " << a.error;
  }
  EXPECT_NE(attempt("t_section_malformed").error.find("malformed ABI section (7 bytes"), std::string::npos);
  // The proof works: a plugin that is taken did run its constructor.
  Attempt good = attempt("t_marker");
  EXPECT_EQ(good.error, "");
  EXPECT_TRUE(good.ran);
}

TEST(LoaderBeforeLoading, APluginFromTheCurrentSdkIsCheckedFromItsFile) {
  auto p = plugins::load_plugin(plugin("t_good"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->checked_before_loading);
  auto block = plugins::check_file(plugin("t_good"));
  ASSERT_TRUE(block.ok() && block->has_value());
  EXPECT_EQ(plugins::abi_version_text(**block), kKernelAbi);
}

TEST(LoaderBeforeLoading, ASectionLongerThanTheBlockIsReadFromItsStart) {
  auto p = plugins::load_plugin(plugin("t_section_padded"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->checked_before_loading);
}

TEST(LoaderBeforeLoading, APluginWithoutTheSectionIsStillCheckedAfterLoading) {
  auto p = plugins::load_plugin(plugin("t_legacy"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->checked_before_loading);
}

TEST(LoaderBeforeLoading, ASectionThatDisagreesWithTheDescriptorIsRefused) {
  std::string e = load_error("t_section_mismatch");
  EXPECT_NE(e.find("t_section_mismatch.so has an ABI section that differs from its descriptor"), std::string::npos) << e;
}

// Copies of a real plugin with one field of its ELF header changed.
class DamagedFile : public ::testing::Test {
 protected:
  std::string copy_with(std::size_t offset, std::string bytes, std::size_t truncate_to = 0) {
    std::string image = test::read_file(plugin("t_good"));
    image.replace(offset, bytes.size(), bytes);
    if (truncate_to) image.resize(truncate_to);
    dir_.write("t_good.so", image);
    auto r = plugins::load_plugin(dir_.file("t_good.so"));
    return r.ok() ? "" : r.error().message;
  }
  test::TempDir dir_;
};

TEST_F(DamagedFile, AnotherMachineIsNamed) {
  // e_machine, little-endian, at offset 18.
#if defined(__aarch64__)
  std::string e = copy_with(18, std::string("\x3e\x00", 2));  // x86_64
  EXPECT_NE(e.find("was built for x86_64; this machine is aarch64"), std::string::npos) << e;
#else
  std::string e = copy_with(18, std::string("\xb7\x00", 2));  // aarch64
  EXPECT_NE(e.find("was built for aarch64; this machine is"), std::string::npos) << e;
#endif
}

TEST_F(DamagedFile, AnotherWordSizeIsNamed) {
  std::string e = copy_with(4, std::string(1, sizeof(void*) == 8 ? '\x01' : '\x02'));  // EI_CLASS
  EXPECT_NE(e.find(sizeof(void*) == 8 ? "is a 32-bit ELF file; this kernel is 64-bit" : "is a 64-bit ELF file"),
            std::string::npos)
      << e;
}

TEST_F(DamagedFile, NotASharedObject) {
  std::string e = copy_with(16, std::string("\x02\x00", 2));  // e_type = ET_EXEC
  EXPECT_NE(e.find("is not a shared object (ELF type 2)"), std::string::npos) << e;
}

TEST_F(DamagedFile, ATruncatedFileIsRefusedWithoutReadingPastIt) {
  std::string e = copy_with(0, "", 4096);
  EXPECT_NE(e.find("has a damaged section table"), std::string::npos) << e;
  std::string header_only = copy_with(0, "", 40);
  EXPECT_NE(header_only.find("is not an ELF shared object"), std::string::npos) << header_only;
}

TEST_F(DamagedFile, ABadSectionHeaderSizeOrNameIndex) {
  if (sizeof(void*) != 8) GTEST_SKIP() << "the offsets are the 64-bit layout's";
  std::string entry = copy_with(58, std::string("\x10\x00", 2));  // e_shentsize
  EXPECT_NE(entry.find("has a damaged section table"), std::string::npos) << entry;
  std::string names = copy_with(62, std::string("\xf0\xff", 2));  // e_shstrndx past the table
  EXPECT_NE(names.find("has a damaged section table"), std::string::npos) << names;
}

// Stripped of its section headers (sstrip, objcopy --strip-sections) a
// library still loads: it has no ABI section, so it is checked after loading.
TEST_F(DamagedFile, WithoutSectionHeadersItLoadsCheckedAfterwards) {
  if (sizeof(void*) != 8) GTEST_SKIP() << "the offsets are the 64-bit layout's";
  std::string image = test::read_file(plugin("t_good"));
  image.replace(40, 8, std::string(8, '\0'));  // e_shoff
  image.replace(60, 4, std::string(4, '\0'));  // e_shnum, e_shstrndx
  dir_.write("t_good.so", image);
  auto block = plugins::check_file(dir_.file("t_good.so"));
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_FALSE(block->has_value());
  auto p = plugins::load_plugin(dir_.file("t_good.so"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->checked_before_loading);
}

TEST_F(DamagedFile, ASectionTableOffsetPastTheEnd) {
  std::string far(8, '\xff');  // e_shoff at offset 40 (64-bit)
  if (sizeof(void*) != 8) GTEST_SKIP() << "the offsets are the 64-bit layout's";
  std::string e = copy_with(40, far);
  EXPECT_NE(e.find("has a damaged section table"), std::string::npos) << e;
}

TEST(Loader, FindsPluginsOnTheSearchPath) {
  auto f = plugins::find_plugin_file("t_good", {"/nonexistent", test::test_plugin_dir()});
  ASSERT_TRUE(f.ok());
  auto none = plugins::find_plugin_file("t_nothing", {"/nonexistent"});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no t_nothing.so was found in the search path (/nonexistent)"),
            std::string::npos);
  auto all = plugins::discover_plugin_files({test::test_plugin_dir()});
  EXPECT_GE(all.size(), 10u);
}

class HostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Config::load("", {"PICLOUD_T_GOOD_TRACE_FILE=" + trace_, "PICLOUD_T_DEPENDENT_TRACE_FILE=" + trace_});
    ASSERT_TRUE(c.ok());
    config_ = std::make_unique<Config>(std::move(*c));
    router_ = std::make_unique<http::Router>(metrics_);
    host_ = std::make_unique<plugins::PluginHost>(*config_, *router_, capabilities_, metrics_);
    db_ = tdb_.open();
    ASSERT_TRUE(db_->execute("CREATE TABLE t_good_events (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT)").ok());
  }
  sdk::Result<void> load(std::vector<std::string> names) {
    plugins::PluginSettings s;
    s.enabled = std::move(names);
    s.search_path = {test::test_plugin_dir()};
    return host_->load(s);
  }
  std::string trace() const { return test::read_file(trace_); }

  test::TempDir dir_;
  std::string trace_ = dir_.file("trace.txt");
  test::TestDatabase tdb_{test::Backend::sqlite};
  std::unique_ptr<kernel::db::Database> db_;
  MetricsRegistry metrics_;
  admin::CapabilityRegistry capabilities_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<plugins::PluginHost> host_;
};

TEST_F(HostTest, OrdersByDependencyAndStopsInReverse) {
  ASSERT_TRUE(load({"t_dependent", "t_good"}).ok());
  ASSERT_EQ(host_->plugins().size(), 2u);
  EXPECT_EQ(host_->plugins()[0].name, "t_good");
  auto configured = host_->configure_all(*db_);
  ASSERT_TRUE(configured.ok()) << configured.error().message;
  ASSERT_TRUE(host_->start_all().ok());
  EXPECT_TRUE(host_->all_started());
  auto m = router_->match("GET", "/t_dependent/greet");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler({}).body, "hello via dependent");
  EXPECT_EQ(m.route->owner, "t_dependent");
  host_->stop_all();
  EXPECT_EQ(trace(), "configure t_good\nstart t_good\nstart t_dependent\nstop t_dependent\nstop t_good\n");
  auto rows = db_->query("SELECT what FROM t_good_events");
  ASSERT_EQ(rows->size(), 1u);
}

// One plugin the kernel cannot take stops start-up before any plugin's code
// ran, including the good ones listed before it. (Meaningful in a process of
// its own, as ctest runs each test: a library loaded earlier in the same
// process does not run its constructors again.)
TEST_F(HostTest, OneUnacceptablePluginStopsStartUpBeforeAnyPluginRuns) {
  test::TempDir markers;
  setenv("PICLOUD_TEST_MARKER_DIR", markers.path().c_str(), 1);
  auto r = load({"t_marker", "t_abi_minor"});
  unsetenv("PICLOUD_TEST_MARKER_DIR");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("t_abi_minor.so needs SDK ABI"), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(markers.file("t_marker.ran")));
  EXPECT_FALSE(std::filesystem::exists(markers.file("t_abi_minor.ran")));
}

TEST_F(HostTest, MissingDependencyIsRefusedNamingBoth) {
  auto r = load({"t_dep_missing"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("plugin 't_dep_missing' depends on 't_nowhere'"), std::string::npos)
      << r.error().message;
  auto r2 = load({"t_dependent"});  // t_good exists but is not enabled
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("depends on 't_good', which is not enabled"), std::string::npos);
}

TEST_F(HostTest, KernelSectionNamesAreReserved) {
  plugins::PluginSettings s;
  s.enabled = {"log"};
  s.search_path = {test::test_plugin_dir() + "/reserved"};
  s.reserved_names = {"http", "database", "plugins", "log"};
  auto r = host_->load(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is named 'log', which is the kernel's own config section"), std::string::npos)
      << r.error().message;
}

TEST_F(HostTest, CycleIsRefusedNamingTheChain) {
  auto r = load({"t_cycle_a", "t_cycle_b"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cycle: t_cycle_a -> t_cycle_b -> t_cycle_a"), std::string::npos)
      << r.error().message;
}

TEST_F(HostTest, StartThatThrowsStopsEverythingAlreadyStarted) {
  ASSERT_TRUE(load({"t_good", "t_start_throws"}).ok());
  ASSERT_TRUE(host_->configure_all(*db_).ok());
  auto r = host_->start_all();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("plugin 't_start_throws' failed to start: threw: boom in start"),
            std::string::npos)
      << r.error().message;
  EXPECT_FALSE(host_->all_started());
  EXPECT_EQ(trace(), "configure t_good\nstart t_good\nstop t_good\n");
}

TEST_F(HostTest, ConfigureErrorNamesThePlugin) {
  ASSERT_TRUE(load({"t_configure_fails"}).ok());
  auto r = host_->configure_all(*db_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "plugin 't_configure_fails' failed to configure: setting 'x' is required");
}

TEST_F(HostTest, InvalidPluginConfigValueRefusesNamingTheKey) {
  auto c = Config::load("", {"PICLOUD_T_GOOD_LIMIT=1000"});
  config_ = std::make_unique<Config>(std::move(*c));
  host_ = std::make_unique<plugins::PluginHost>(*config_, *router_, capabilities_, metrics_);
  ASSERT_TRUE(load({"t_good"}).ok());
  auto r = host_->configure_all(*db_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("[t_good] limit = '1000'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("an integer from 1 to 100"), std::string::npos) << r.error().message;
}

TEST_F(HostTest, BackgroundTasksRunAndStopBeforeThePlugin) {
  ASSERT_TRUE(load({"t_good"}).ok());
  ASSERT_TRUE(host_->configure_all(*db_).ok());
  ASSERT_TRUE(host_->start_all().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string text = metrics_.render();
  const std::string series = "\npicloud_t_good_ticks_total ";
  auto pos = text.find(series);
  ASSERT_NE(pos, std::string::npos) << text;
  EXPECT_GT(std::stoi(text.substr(pos + series.size())), 0);
  host_->stop_all();
  std::string after = metrics_.render();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(after, metrics_.render()) << "ticks continued after stop";
}
