// log:: — lines kept with the run for its execution log. A run keeps at most
// max_log_lines (further lines are counted as dropped) and cuts each line at
// max_log_line_bytes, so a chatty loop cannot grow the log without bound.
#include <chrono>

#include "scripting/memory.hpp"
#include "scripting/run_state.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

template <LogLevel level>
void write(const std::string& message) {
  RunState* run = RunState::current();
  if (!run) return;
  if (static_cast<int>(run->logs.size()) >= run->limits->max_log_lines) {
    ++run->dropped_logs;
    return;
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto max = static_cast<std::size_t>(run->limits->max_log_line_bytes);
  std::string text = message;
  if (message.size() > max) {
    // Cut before a UTF-8 continuation byte, not in the middle of a character
    // (a cut character left the line invalid UTF-8).
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    text = message.substr(0, cut) + "…";
  }
  memory::Unaccounted keep;  // the log belongs to the execution, not the script's heap
  run->logs.push_back({level, std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), std::move(text)});
}

}  // namespace

void register_log(asIScriptEngine* e) {
  check_registration(e->SetDefaultNamespace("log"), "namespace log");
  check_registration(e->RegisterGlobalFunction("void debug(const string &in message)",
                                               WRAP_FN(write<LogLevel::debug>), asCALL_GENERIC),
                     "log::debug");
  check_registration(e->RegisterGlobalFunction("void info(const string &in message)",
                                               WRAP_FN(write<LogLevel::info>), asCALL_GENERIC),
                     "log::info");
  check_registration(e->RegisterGlobalFunction("void warn(const string &in message)",
                                               WRAP_FN(write<LogLevel::warn>), asCALL_GENERIC),
                     "log::warn");
  check_registration(e->RegisterGlobalFunction("void error(const string &in message)",
                                               WRAP_FN(write<LogLevel::error>), asCALL_GENERIC),
                     "log::error");
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

}  // namespace picloud::scripting
