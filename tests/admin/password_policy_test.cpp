// The password policy: each rule on its own, then on every way a password is
// set — a new user, a reset by the owner, a change of one's own, the first
// owner from the environment, and Identity::set_password itself (which the
// command line's reset-password uses).
#include "fixture.hpp"
#include "kernel/admin/password_policy.hpp"

using namespace picloud;
using namespace picloud::test;
using kernel::admin::check_password_policy;

namespace {

// The reason a password is refused, or "" when it is accepted.
std::string refusal(std::string_view password, std::string_view username = "someone") {
  auto r = check_password_policy(password, username);
  if (r) return "";
  EXPECT_EQ(r.error().kind, sdk::ErrorKind::invalid_argument);
  return r.error().message;
}

bool says(const std::string& message, const std::string& part) { return message.find(part) != std::string::npos; }

TEST(PasswordPolicy, LengthStaysAsItWas) {
  EXPECT_TRUE(says(refusal("short"), "at least 12 characters"));
  EXPECT_TRUE(says(refusal(std::string(1025, 'x') + "y"), "at most 1024 bytes"));
}

TEST(PasswordPolicy, CommonPasswordsAreRefusedWhateverTheirCase) {
  for (const char* p : {"password1234", "PASSWORD1234", "qwerty123456", "123456789012", "iloveyou1234!",
                        "passwordpassword!", "1qaz2wsx3edc", "qwertyuiopasdfghjkl"}) {
    auto why = refusal(p);
    EXPECT_TRUE(says(why, "too common") || says(why, "sequence") || says(why, "repeated")) << p << ": " << why;
  }
  EXPECT_TRUE(says(refusal("Password1234"), "too common (found in a list of commonly used passwords)"));
  // Digits and symbols around a common one, and look-alike swaps, do not help.
  for (const char* p : {"Password2024!", "!!Sunshine!!2024", "P@ssw0rd1234", "Dragon12345678", "l3tm3in-2024!",
                        "1234-monkey-5678", "Christopher1"}) {
    EXPECT_TRUE(says(refusal(p), "too common")) << p << ": " << refusal(p);
  }
}

TEST(PasswordPolicy, TheUserNameIsRefusedAnywhereInThePassword) {
  EXPECT_TRUE(says(refusal("gregory12345678", "gregory"), "must not contain the user name"));
  EXPECT_TRUE(says(refusal("my name is GREGORY!", "Gregory"), "must not contain the user name"));
  EXPECT_TRUE(says(refusal("jane-doe-was-here", "jane@example.com"), "must not contain the user name"))
      << "the part of an e-mail address before '@' counts too";
  EXPECT_EQ(refusal("the sea of jolly waves", "jo"), "") << "a 2-character name is not looked for inside";
}

TEST(PasswordPolicy, RepetitionsAndSequencesAreRefused) {
  EXPECT_EQ(refusal("aaaaaaaaaaaaaa"), "the password is one character repeated");
  EXPECT_EQ(refusal("############"), "the password is one character repeated");
  EXPECT_EQ(refusal("abcabcabcabc"), "the password is a few characters repeated");
  EXPECT_EQ(refusal("Tr0ub4dorTr0ub4dor"), "the password is a few characters repeated");
  for (const char* p : {"abcdefghijklm", "ZYXWVUTSRQPONM", "1234567890123", "0987654321098", "qwertyuiop[]",
                        "lkjhgfdsapoiuy", "`1234567890-=", "mnbvcxzlkjhg"}) {
    EXPECT_TRUE(says(refusal(p), "simple sequence")) << p << ": " << refusal(p);
  }
}

TEST(PasswordPolicy, GoodPasswordsPass) {
  for (const char* p : {"correct horse battery staple", "Zq8#mK2!pL9vW", "pale-lantern-harbour-41", "пароль-для-меня-2024",
                        "aaaaaaaaaaab", "password is not my password", "482917365018"}) {
    EXPECT_EQ(refusal(p, "gregory"), "") << p;
  }
}

class PasswordPolicyHttp : public ::testing::TestWithParam<Backend> {};

TEST_P(PasswordPolicyHttp, EveryWayOfSettingAPasswordHoldsToIt) {
  Instance& pc = shared_instance(GetParam(), false);
  auto user = [&](const std::string& name, const std::string& password) {
    return pc.post("/users", pc.owner_key, R"({"username":")" + name + R"(","password":")" + password + R"("})");
  };
  // A new user.
  for (auto [password, reason] : std::vector<std::pair<std::string, std::string>>{
           {"Password2024!", "too common"},
           {"winston-1234567", "must not contain the user name"},
           {"zzzzzzzzzzzzzz", "one character repeated"},
           {"abcdefghijklmn", "simple sequence"}}) {
    auto r = user("winston", password);
    EXPECT_EQ(r.status, 400) << password << r.body;
    EXPECT_EQ(r.json["error"]["details"]["field"].string_or(""), "password") << r.body;
    EXPECT_TRUE(says(r.message(), reason)) << password << ": " << r.body;
  }
  auto made = user("winston", kPassword);
  ASSERT_EQ(made.status, 201) << made.body;

  // A reset by the owner.
  auto reset = pc.call("PATCH", "/users/winston", pc.owner_key, R"({"password":"Winston.Smith.1984"})");
  EXPECT_EQ(reset.status, 400) << reset.body;
  EXPECT_TRUE(says(reset.message(), "must not contain the user name")) << reset.body;

  // A change of one's own.
  Creds session = pc.login("winston");
  auto change = pc.call("PUT", "/me/password", session,
                        R"({"current_password":")" + kPassword + R"(","new_password":"iloveyou123456"})");
  EXPECT_EQ(change.status, 400) << change.body;
  EXPECT_EQ(change.json["error"]["details"]["field"].string_or(""), "new_password") << change.body;
  EXPECT_TRUE(says(change.message(), "too common")) << change.body;
  EXPECT_NO_THROW(pc.login("winston")) << "the refused passwords were not set";

  // Identity::set_password, the command line's way in, checks on its own.
  auto direct = pc.kernel().admin()->identity().set_password(made.json["id"].as_string(), "qwerty123456");
  ASSERT_FALSE(direct);
  EXPECT_TRUE(says(direct.error().message, "too common")) << direct.error().message;
  EXPECT_NO_THROW(pc.login("winston"));
}

INSTANTIATE_TEST_SUITE_P(Backends, PasswordPolicyHttp, ::testing::Values(Backend::sqlite, Backend::postgres),
                         [](const auto& info) { return backend_name(info.param); });

TEST(PasswordPolicyStartUp, TheFirstOwnerFromTheEnvironmentHoldsToIt) {
  try {
    Instance pc(Backend::sqlite, {{"PICLOUD_OWNER_PASSWORD", "password12345"}});
    ADD_FAILURE() << "started with a common owner password";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(says(e.what(), "cannot create the owner: the password is too common")) << e.what();
  }
}

}  // namespace
