// Compile errors made helpful, after a build:
//   - a call that matches no function (or several) lists the candidates with
//     their namespace and doc line, and its column moves to the argument
//     that fits none of them, when one can be singled out;
//   - a json literal written the way AngelScript cannot read says how to
//     write it.
// AngelScript reports the candidates as information messages after the
// error, without namespace or doc; the engine collects them into
// Diagnostic::candidates as they come, and this completes them.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "scripting/api_reference.hpp"
#include "scripting/as.hpp"
#include "scripting/engine.hpp"
#include "scripting/scope_hint.hpp"

namespace picloud::scripting {

class CompileHints {
 public:
  // Indexes every registered function and method by the text AngelScript
  // gives a candidate. Call once the engine is fully registered.
  CompileHints(const asIScriptEngine* engine, const ApiDocs& docs);

  // `sections` are the code as compiled; `column_shift` what the engine took
  // off first-line columns of a section (modules are wrapped in a namespace).
  void explain(std::vector<Diagnostic>& errors, const std::vector<SourceSection>& sections,
               const std::map<std::string, int>& column_shift) const;

 private:
  void complete_candidates(Diagnostic& error) const;

  // The AngelScript candidate text -> what to show instead (ambiguous texts
  // are left as they are).
  std::unordered_map<std::string, std::vector<Candidate>> known_;
};

// At most this many candidates are kept per error, and at most
// kMaxExplainedCalls errors of a build are explained (each reads the source
// around the call): bounds on what a hostile script can make a compile cost.
inline constexpr std::size_t kMaxCandidates = 16;
inline constexpr std::size_t kMaxExplainedCalls = 32;

// Whether a compiler message is the error that a list of candidates follows.
bool lists_candidates(const std::string& message);

}  // namespace picloud::scripting
