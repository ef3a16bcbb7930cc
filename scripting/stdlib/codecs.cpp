// base64::, hex:: and url:: — text encodings, on strings and on bytes — and
// the string utilities split and join.
#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>

#include "scripting/bytes.hpp"
#include "scripting/json.hpp"
#include "scripting/stdlib/stdlib.hpp"

namespace picloud::scripting {
namespace {

std::string base64_encode_view(std::string_view data) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(data.data(), static_cast<std::streamsize>(data.size()));
  encoder.close();
  return out.str();
}

std::string base64_decode_text(const std::string& text) {
  // Poco's decoder skips characters outside the alphabet; be strict instead.
  std::string compact;
  for (char c : text) {
    if (c == '\r' || c == '\n') continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              c == '=' || c == '-' || c == '_';
    if (!ok) throw ScriptException("base64: invalid character in input");
    compact.push_back(c == '-' ? '+' : c == '_' ? '/' : c);  // accept the URL-safe alphabet too
  }
  // Poco's decoder quietly drops a dangling character and reads past padding
  // ("Z" and "Zg==Zg==" decoded without error), so check the layout: padding
  // only at the end, completing the last group, and no group of one character.
  std::size_t pad = 0;
  while (pad < compact.size() && compact[compact.size() - 1 - pad] == '=') ++pad;
  std::size_t data = compact.size() - pad;
  if (compact.find('=') < data || pad > 2 || (pad && (data % 4 == 0 || data % 4 + pad > 4)))
    throw ScriptException("base64: misplaced padding in input");
  if (data % 4 == 1) throw ScriptException("base64: truncated input");
  while (compact.size() % 4) compact.push_back('=');
  std::istringstream in(compact);
  Poco::Base64Decoder decoder(in);
  std::string out;
  try {
    out.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception&) {
    throw ScriptException("base64: invalid input");
  }
  return out;
}

std::string base64_encode(const std::string& s) { return base64_encode_view(s); }
std::string base64_encode_bytes(const CScriptArray& b) { return base64_encode_view(bytes_view(b)); }
std::string base64_decode(const std::string& s) { return base64_decode_text(s); }
CScriptArray* base64_decode_bytes(const std::string& s) { return make_bytes(base64_decode_text(s)); }

std::string hex_decode_text(const std::string& text) {
  if (text.size() % 2) throw ScriptException("hex: input has an odd number of digits");
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw ScriptException(std::string("hex: invalid digit '") + c + "'");
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) out.push_back(static_cast<char>(digit(text[i]) * 16 + digit(text[i + 1])));
  return out;
}

std::string hex_encode(const std::string& s) { return hex_text(s); }
std::string hex_encode_bytes(const CScriptArray& b) { return hex_text(bytes_view(b)); }
std::string hex_decode(const std::string& s) { return hex_decode_text(s); }
CScriptArray* hex_decode_bytes(const std::string& s) { return make_bytes(hex_decode_text(s)); }

// Percent-encodes everything but RFC 3986's unreserved characters, so the
// result is safe in a path segment, a query key or a query value.
std::string url_encode(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "!#$&'()*+,/:;=?@[]\"%<>\\^`{|} ", out);
  return out;
}

std::string url_decode(const std::string& s) {
  // '+' is a space in form data. Poco's plusAsSpace applies only after a '?'
  // in the text, so "a+b" stayed "a+b"; replace before decoding (an encoded
  // %2B still decodes to '+').
  std::string spaced = s;
  std::replace(spaced.begin(), spaced.end(), '+', ' ');
  std::string out;
  try {
    Poco::URI::decode(spaced, out);
  } catch (const Poco::Exception& e) {
    throw ScriptException("url: " + e.message());
  }
  return out;
}

JsonNode* url_parse(const std::string& text) {
  Poco::URI uri;
  try {
    uri = Poco::URI(text);
  } catch (const Poco::Exception& e) {
    throw ScriptException("url: cannot parse \"" + text + "\": " + e.message());
  }
  if (uri.getScheme().empty()) throw ScriptException("url: \"" + text + "\" is not an absolute URL");
  sdk::Value query = sdk::Value::object();
  try {
    for (const auto& [k, v] : uri.getQueryParameters()) query.set(k, v);
  } catch (const Poco::Exception& e) {
    throw ScriptException("url: bad query in \"" + text + "\": " + e.message());
  }
  sdk::Value out = sdk::Value::object({{"scheme", uri.getScheme()},
                                       {"user_info", uri.getUserInfo()},
                                       {"host", uri.getHost()},
                                       {"port", static_cast<std::int64_t>(uri.getPort())},
                                       {"path", uri.getPath()},
                                       {"query", std::move(query)},
                                       {"raw_query", uri.getRawQuery()},
                                       {"fragment", uri.getFragment()}});
  return json_from_value(out).detach();
}

// string.split(delimiter) and join(parts, delimiter), in linear time (the
// add-on's grow their array one element at a time).
CScriptArray* split(const std::string& delimiter, const std::string* self) {
  std::vector<std::string> parts;
  if (delimiter.empty()) {
    parts.push_back(*self);
  } else {
    std::size_t start = 0, at;
    while ((at = self->find(delimiter, start)) != std::string::npos) {
      parts.push_back(self->substr(start, at - start));
      start = at + delimiter.size();
    }
    parts.push_back(self->substr(start));
  }
  return make_string_array(parts);
}

std::string join(const CScriptArray& parts, const std::string& delimiter) {
  std::size_t total = 0;
  for (asUINT i = 0; i < parts.GetSize(); ++i)
    total += static_cast<const std::string*>(parts.At(i))->size() + (i ? delimiter.size() : 0);
  std::string out;
  out.reserve(total);
  for (asUINT i = 0; i < parts.GetSize(); ++i) {
    if (i) out += delimiter;
    out += *static_cast<const std::string*>(parts.At(i));
  }
  return out;
}

void fn(asIScriptEngine* e, const char* decl, const asSFuncPtr& f) {
  check_registration(e->RegisterGlobalFunction(decl, f, asCALL_GENERIC), decl);
}

}  // namespace

std::string hex_text(std::string_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

void register_string_utils(asIScriptEngine* e) {
  check_registration(e->RegisterObjectMethod("string", "array<string>@ split(const string &in delimiter) const",
                                             WRAP_OBJ_LAST(split), asCALL_GENERIC),
                     "string::split");
  fn(e, "string join(const array<string> &in parts, const string &in delimiter)", WRAP_FN(join));
}

void register_codecs(asIScriptEngine* e) {
  check_registration(e->SetDefaultNamespace("base64"), "namespace base64");
  fn(e, "string encode(const string &in text)", WRAP_FN(base64_encode));
  fn(e, "string encode(const array<uint8> &in data)", WRAP_FN(base64_encode_bytes));
  fn(e, "string decode(const string &in text)", WRAP_FN(base64_decode));
  fn(e, "array<uint8>@ decode_bytes(const string &in text)", WRAP_FN(base64_decode_bytes));
  check_registration(e->SetDefaultNamespace("hex"), "namespace hex");
  fn(e, "string encode(const string &in text)", WRAP_FN(hex_encode));
  fn(e, "string encode(const array<uint8> &in data)", WRAP_FN(hex_encode_bytes));
  fn(e, "string decode(const string &in text)", WRAP_FN(hex_decode));
  fn(e, "array<uint8>@ decode_bytes(const string &in text)", WRAP_FN(hex_decode_bytes));
  check_registration(e->SetDefaultNamespace("url"), "namespace url");
  fn(e, "string encode(const string &in text)", WRAP_FN(url_encode));
  fn(e, "string decode(const string &in text)", WRAP_FN(url_decode));
  fn(e, "json@ parse(const string &in url)", WRAP_FN(url_parse));
  check_registration(e->SetDefaultNamespace(""), "namespace");
}

}  // namespace picloud::scripting
