// The script `string` type: std::string as an AngelScript value type with the
// members of AngelScript's standard string add-on, so scripts read as the
// AngelScript manual describes, registered here rather than by the add-on.
//
// Why not the add-on's registration: its operators return strings by value
// through wrappers of its own. When such a call throws (std::bad_alloc from a
// run's memory budget, `s + s` of a large s) while its result was to be
// passed on as an argument (`res.text(s + s)`), AngelScript 2.35 destroys the
// unfilled return slot during unwinding: a double free or a segmentation
// fault. Every member here goes through the guarded wrappers of as.hpp, which
// leave an empty string in the slot. Registering a member twice poisons the
// engine, so the add-on's string could not be patched member by member.
//
// Also unlike the add-on: formatInt/formatUInt/formatFloat build their result
// in a std::string sized to fit (the add-on's wrote into a fixed buffer), an
// unknown format option or an unsupported base is an error rather than
// ignored, and out-of-range positions in insert/erase say so.
#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "scripting/memory.hpp"
#include "scripting/run_state.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

using Str = std::string;

// --- constants ---------------------------------------------------------------

// The engine asks for one object per string literal when it compiles a
// script and gives it back when the module is discarded. Equal literals share
// one object (counted). One instance serves every engine of the process and
// outlives them all; compiling may happen on any thread.
class StringConstants final : public asIStringFactory {
 public:
  const void* GetStringConstant(const char* data, asUINT length) override {
    memory::Unaccounted ours;  // owned by the module, not by a run
    std::lock_guard lock(mutex_);
    try {
      auto [it, inserted] = counts_.try_emplace(Str(data, length), 0);
      ++it->second;
      return &it->first;  // a node's key: its address is stable
    } catch (...) {
      return nullptr;  // the engine reports a failed constant
    }
  }
  int ReleaseStringConstant(const void* constant) override {
    memory::Unaccounted ours;
    std::lock_guard lock(mutex_);
    auto it = counts_.find(*static_cast<const Str*>(constant));
    if (it == counts_.end()) return asERROR;
    if (--it->second == 0) counts_.erase(it);
    return asSUCCESS;
  }
  int GetRawStringData(const void* constant, char* data, asUINT* length) const override {
    const auto* text = static_cast<const Str*>(constant);
    if (length) *length = static_cast<asUINT>(text->size());
    if (data) std::memcpy(data, text->data(), text->size());
    return asSUCCESS;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<Str, int> counts_;
};

StringConstants& string_constants() {
  static auto* constants = new StringConstants;  // never destroyed: engines may outlive statics
  return *constants;
}

// --- life cycle --------------------------------------------------------------

void construct(asIScriptGeneric* gen) { new (gen->GetObject()) Str(); }

// A copy the run's memory refuses ends the run rather than throwing: copies
// are also made inside containers' own code (the array add-on copying a
// default value into each new element), which an exception would leave
// with what it had built never released. The context is aborted, so the
// script runs no further instruction and the run ends with its memory
// error; false outside a run (the caller throws then).
bool end_run_for_memory() {
  RunState* run = RunState::current();
  if (!run) return false;
  memory::Unaccounted ours;
  run->fail(RunError::memory_limit, "");
  return true;
}

// A copy that cannot be made leaves a valid empty string behind.
void copy_construct(asIScriptGeneric* gen) {
  const auto& other = *static_cast<const Str*>(gen->GetArgAddress(0));
  void* self = gen->GetObject();
  try {
    new (self) Str(other);
  } catch (const std::bad_alloc&) {
    new (self) Str();
    if (!end_run_for_memory()) throw;
  } catch (...) {
    new (self) Str();
    throw;
  }
}

void destruct(asIScriptGeneric* gen) { static_cast<Str*>(gen->GetObject())->~Str(); }

// --- operators ---------------------------------------------------------------

Str& assign(const Str& other, Str& self) {
  try {
    return self = other;
  } catch (const std::bad_alloc&) {  // as copy_construct
    Str().swap(self);
    if (!end_run_for_memory()) throw;
    return self;
  }
}
Str& append(const Str& other, Str& self) { return self += other; }
bool equals(const Str& other, const Str& self) { return self == other; }
int compare(const Str& other, const Str& self) {
  int c = self.compare(other);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}
Str concat(const Str& other, const Str& self) {
  Str out;
  out.reserve(self.size() + other.size());
  out += self;
  out += other;
  return out;
}

// Numbers and bools read as the add-on wrote them (and as C++ streams do):
// floats in %g form with six significant digits, bools as true/false.
Str text_of(double v) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof buffer, "%g", v);
  return Str(buffer, static_cast<std::size_t>(n));
}
Str text_of(float v) { return text_of(static_cast<double>(v)); }
Str text_of(asINT64 v) { return std::to_string(v); }
Str text_of(asQWORD v) { return std::to_string(v); }
Str text_of(bool v) { return v ? "true" : "false"; }

template <typename T>
Str& assign_value(T v, Str& self) {
  return self = text_of(v);
}
template <typename T>
Str& append_value(T v, Str& self) {
  return self += text_of(v);
}
template <typename T>
Str with_value_appended(T v, const Str& self) {  // string + value
  return concat(text_of(v), self);
}
template <typename T>
Str with_value_prepended(T v, const Str& self) {  // value + string
  return concat(self, text_of(v));
}

// --- members -----------------------------------------------------------------

asUINT length(const Str& self) {
  if (self.size() > std::numeric_limits<asUINT>::max())
    throw ScriptException("length " + std::to_string(self.size()) + " does not fit in a uint");
  return static_cast<asUINT>(self.size());
}
void resize(asUINT size, Str& self) { self.resize(size); }
bool is_empty(const Str& self) { return self.empty(); }

asBYTE& byte_at(asUINT index, Str& self) {
  if (index >= self.size()) throw ScriptException("Out of range");
  return reinterpret_cast<asBYTE&>(self[index]);
}
const asBYTE& byte_at_const(asUINT index, const Str& self) {
  if (index >= self.size()) throw ScriptException("Out of range");
  return reinterpret_cast<const asBYTE&>(self[index]);
}

Str substr(asUINT start, int count, const Str& self) {
  if (start >= self.size() || count == 0) return Str();
  return self.substr(start, count < 0 ? Str::npos : static_cast<std::size_t>(count));
}

// Positions are script ints: a string longer than that (possible only when
// an operator raises the single-value limit past 2 GiB) is refused rather
// than answered with a wrong position.
int position(std::size_t found) {
  if (found == Str::npos) return -1;
  if (found > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw ScriptException("position " + std::to_string(found) + " does not fit in an int");
  return static_cast<int>(found);
}
std::size_t from_end(int start) { return start < 0 ? Str::npos : static_cast<std::size_t>(start); }

int find_first(const Str& sub, asUINT start, const Str& self) { return position(self.find(sub, start)); }
int find_first_of(const Str& set, asUINT start, const Str& self) { return position(self.find_first_of(set, start)); }
int find_first_not_of(const Str& set, asUINT start, const Str& self) {
  return position(self.find_first_not_of(set, start));
}
int find_last(const Str& sub, int start, const Str& self) { return position(self.rfind(sub, from_end(start))); }
int find_last_of(const Str& set, int start, const Str& self) {
  return position(self.find_last_of(set, from_end(start)));
}
int find_last_not_of(const Str& set, int start, const Str& self) {
  return position(self.find_last_not_of(set, from_end(start)));
}

void insert(asUINT pos, const Str& other, Str& self) {
  if (pos > self.size())
    throw ScriptException("insert at " + std::to_string(pos) + " is past the end (length " +
                          std::to_string(self.size()) + ")");
  self.insert(pos, other);
}
void erase(asUINT pos, int count, Str& self) {
  if (pos > self.size())
    throw ScriptException("erase at " + std::to_string(pos) + " is past the end (length " +
                          std::to_string(self.size()) + ")");
  self.erase(pos, count < 0 ? Str::npos : static_cast<std::size_t>(count));
}

// --- formatting --------------------------------------------------------------

struct FormatOptions {
  bool left = false;      // l: pad on the right
  bool zeros = false;     // 0: pad with zeros after the sign
  bool plus = false;      // +: a sign on positive numbers too
  bool space = false;     // ' ': a space where a positive number's sign would be
  char hex = 0;           // x or X: hexadecimal (integers)
  char exponent = 0;      // e or E: exponent form (floats)
};

FormatOptions read_options(const char* function, const Str& options, bool integer) {
  FormatOptions o;
  for (char c : options) {
    if (c == 'l') o.left = true;
    else if (c == '0') o.zeros = true;
    else if (c == '+') o.plus = true;
    else if (c == ' ') o.space = true;
    else if (integer && (c == 'x' || c == 'X')) o.hex = c;
    else if (!integer && (c == 'e' || c == 'E')) o.exponent = c;
    else
      throw ScriptException(std::string(function) + ": unknown option '" + Str(1, c) + "' (known: " +
                            (integer ? "l 0 + space x X" : "l 0 + space e E") + ")");
  }
  return o;
}

// Pads `text` to `width` characters. The result is allocated like any other
// string of the run, so an absurd width ends the run with its memory error.
Str pad(Str text, asUINT width, const FormatOptions& o, bool may_zero_pad) {
  if (text.size() >= width) return text;
  std::size_t fill = width - text.size();
  Str out;
  out.reserve(width);
  if (o.left) {
    out += text;
    out.append(fill, ' ');
  } else if (o.zeros && may_zero_pad) {
    std::size_t sign = (!text.empty() && (text[0] == '-' || text[0] == '+' || text[0] == ' ')) ? 1 : 0;
    out.append(text, 0, sign);
    out.append(fill, '0');
    out.append(text, sign);
  } else {
    out.append(fill, ' ');
    out += text;
  }
  return out;
}

Str sign_of(const FormatOptions& o, bool negative) {
  if (negative) return "-";
  if (o.plus) return "+";
  if (o.space) return " ";
  return "";
}

// Digits of an unsigned value: decimal, or hexadecimal in the case `hex` says.
Str digits_of(std::uint64_t value, char hex) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, hex == 'x' ? "%" PRIx64 : hex == 'X' ? "%" PRIX64 : "%" PRIu64, value);
  return buffer;
}

Str format_int(asINT64 value, const Str& options, asUINT width) {
  FormatOptions o = read_options("formatInt", options, true);
  // Hexadecimal shows the value's bits, as printf's %x shows a negative number.
  if (o.hex) return pad(digits_of(static_cast<std::uint64_t>(value), o.hex), width, o, true);
  const auto bits = static_cast<std::uint64_t>(value);
  return pad(sign_of(o, value < 0) + digits_of(value < 0 ? std::uint64_t(0) - bits : bits, 0), width, o, true);
}

Str format_uint(asQWORD value, const Str& options, asUINT width) {
  FormatOptions o = read_options("formatUInt", options, true);
  return pad(digits_of(value, o.hex), width, o, true);
}

// A double's exact decimal expansion ends within 1074 places after the
// point; digits asked for beyond it are zeros, added without printf.
constexpr asUINT kSignificantPlaces = 1100;

Str format_float(double value, const Str& options, asUINT width, asUINT precision) {
  FormatOptions o = read_options("formatFloat", options, false);
  int places = static_cast<int>(std::min(precision, kSignificantPlaces));
  char conversion = o.exponent ? o.exponent : 'f';
  const char* flag = o.plus ? "+" : (o.space ? " " : "");
  char format[16];
  std::snprintf(format, sizeof format, "%%%s.*%c", flag, conversion);
  int n = std::snprintf(nullptr, 0, format, places, value);
  Str text(static_cast<std::size_t>(n), '\0');
  std::snprintf(text.data(), text.size() + 1, format, places, value);
  if (precision > kSignificantPlaces && std::isfinite(value)) {
    std::size_t at = o.exponent ? text.find(o.exponent) : text.size();
    text.insert(at, precision - kSignificantPlaces, '0');
  }
  return pad(std::move(text), width, o, std::isfinite(value));
}

// --- parsing -----------------------------------------------------------------

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// Reads an optional sign and the digits of `base` at the start of `text`;
// `byte_count` is how many characters that took (0: no number there). A
// number beyond the type's range reads as its nearest bound.
template <typename T>
T parse_integer(const char* function, const Str& text, asUINT base, asUINT& byte_count) {
  if (base < 2 || base > 36)
    throw ScriptException(std::string(function) + ": base " + std::to_string(base) + " is not between 2 and 36");
  std::size_t i = 0;
  bool negative = false;
  // A minus sign is part of a number only where the type has negative ones.
  if (i < text.size() && (text[i] == '+' || (std::is_signed_v<T> && text[i] == '-'))) negative = text[i++] == '-';
  std::size_t first_digit = i;
  // Magnitudes up to 2^64 - 1, then saturated.
  std::uint64_t magnitude = 0;
  bool overflow = false;
  for (; i < text.size() && digit_value(text[i]) < static_cast<int>(base); ++i) {
    auto d = static_cast<std::uint64_t>(digit_value(text[i]));
    if (magnitude > (std::numeric_limits<std::uint64_t>::max() - d) / base) overflow = true;
    else magnitude = magnitude * base + d;
  }
  if (i == first_digit) {
    byte_count = 0;
    return 0;
  }
  byte_count = static_cast<asUINT>(i);
  if constexpr (std::is_signed_v<T>) {
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (negative) return overflow || magnitude > max + 1 ? std::numeric_limits<T>::min()
                                                         : static_cast<T>(std::uint64_t(0) - magnitude);
    return overflow || magnitude > max ? std::numeric_limits<T>::max() : static_cast<T>(magnitude);
  } else {
    return overflow ? std::numeric_limits<T>::max() : magnitude;
  }
}

asINT64 parse_int(const Str& text, asUINT base, asUINT& byte_count) {
  return parse_integer<asINT64>("parseInt", text, base, byte_count);
}
asQWORD parse_uint(const Str& text, asUINT base, asUINT& byte_count) {
  return parse_integer<asQWORD>("parseUInt", text, base, byte_count);
}

// strtod in the C locale the process keeps: leading blanks, a sign, decimal
// or hexadecimal digits with an exponent, inf and nan.
double parse_float(const Str& text, asUINT& byte_count) {
  const char* start = text.c_str();
  char* end = nullptr;
  int saved = errno;
  double value = std::strtod(start, &end);
  errno = saved;
  byte_count = static_cast<asUINT>(end - start);
  return value;
}

// --- registration ------------------------------------------------------------

void method(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterObjectMethod("string", decl, f, asCALL_GENERIC), decl);
}
void behaviour(asIScriptEngine* e, asEBehaviours which, const char* decl, void (*f)(asIScriptGeneric*)) {
  check_registration(e->RegisterObjectBehaviour("string", which, decl, asFUNCTION(f), asCALL_GENERIC), decl);
}
void global(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
}

template <typename T>
void register_value_operators(asIScriptEngine* e, const char* type) {
  Str t(type);
  method(e, ("string &opAssign(" + t + ")").c_str(), WRAP_OBJ_LAST(assign_value<T>));
  method(e, ("string &opAddAssign(" + t + ")").c_str(), WRAP_OBJ_LAST(append_value<T>));
  method(e, ("string opAdd(" + t + ") const").c_str(), WRAP_OBJ_LAST(with_value_appended<T>));
  method(e, ("string opAdd_r(" + t + ") const").c_str(), WRAP_OBJ_LAST(with_value_prepended<T>));
}

}  // namespace

void register_string(asIScriptEngine* e) {
  check_registration(e->RegisterObjectType("string", sizeof(Str), asOBJ_VALUE | asOBJ_APP_CLASS_CDAK), "string");
  check_registration(e->RegisterStringFactory("string", &string_constants()), "string factory");
  behaviour(e, asBEHAVE_CONSTRUCT, "void f()", construct);
  behaviour(e, asBEHAVE_CONSTRUCT, "void f(const string &in)", copy_construct);
  behaviour(e, asBEHAVE_DESTRUCT, "void f()", destruct);

  method(e, "string &opAssign(const string &in)", WRAP_OBJ_LAST(assign));
  method(e, "string &opAddAssign(const string &in)", WRAP_OBJ_LAST(append));
  method(e, "bool opEquals(const string &in) const", WRAP_OBJ_LAST(equals));
  method(e, "int opCmp(const string &in) const", WRAP_OBJ_LAST(compare));
  method(e, "string opAdd(const string &in) const", WRAP_OBJ_LAST(concat));
  register_value_operators<double>(e, "double");
  register_value_operators<float>(e, "float");
  register_value_operators<asINT64>(e, "int64");
  register_value_operators<asQWORD>(e, "uint64");
  register_value_operators<bool>(e, "bool");

  method(e, "uint length() const", WRAP_OBJ_LAST(length));
  method(e, "void resize(uint)", WRAP_OBJ_LAST(resize));
  method(e, "bool isEmpty() const", WRAP_OBJ_LAST(is_empty));
  method(e, "uint8 &opIndex(uint)", WRAP_OBJ_LAST(byte_at));
  method(e, "const uint8 &opIndex(uint) const", WRAP_OBJ_LAST(byte_at_const));
  method(e, "string substr(uint start = 0, int count = -1) const", WRAP_OBJ_LAST(substr));
  method(e, "int findFirst(const string &in, uint start = 0) const", WRAP_OBJ_LAST(find_first));
  method(e, "int findFirstOf(const string &in, uint start = 0) const", WRAP_OBJ_LAST(find_first_of));
  method(e, "int findFirstNotOf(const string &in, uint start = 0) const", WRAP_OBJ_LAST(find_first_not_of));
  method(e, "int findLast(const string &in, int start = -1) const", WRAP_OBJ_LAST(find_last));
  method(e, "int findLastOf(const string &in, int start = -1) const", WRAP_OBJ_LAST(find_last_of));
  method(e, "int findLastNotOf(const string &in, int start = -1) const", WRAP_OBJ_LAST(find_last_not_of));
  method(e, "void insert(uint pos, const string &in other)", WRAP_OBJ_LAST(insert));
  method(e, "void erase(uint pos, int count = -1)", WRAP_OBJ_LAST(erase));

  global(e, "string formatInt(int64 val, const string &in options = \"\", uint width = 0)", WRAP_FN(format_int));
  global(e, "string formatUInt(uint64 val, const string &in options = \"\", uint width = 0)", WRAP_FN(format_uint));
  global(e, "string formatFloat(double val, const string &in options = \"\", uint width = 0, uint precision = 0)",
         WRAP_FN(format_float));
  global(e, "int64 parseInt(const string &in, uint base = 10, uint &out byteCount = 0)", WRAP_FN(parse_int));
  global(e, "uint64 parseUInt(const string &in, uint base = 10, uint &out byteCount = 0)", WRAP_FN(parse_uint));
  global(e, "double parseFloat(const string &in, uint &out byteCount = 0)", WRAP_FN(parse_float));
}

}  // namespace picloud::scripting
