#include "files_rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "picloud/sdk/collections.hpp"
#include "picloud/sdk/json.hpp"
#include "picloud/sdk/text.hpp"

namespace picloud::files {
namespace {

using sdk::ErrorKind;
using sdk::make_error;

bool token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 9110's media-type: type "/" subtype *( OWS ";" OWS [ token "="
// ( token / quoted-string ) ] ). Held to the grammar because the value is
// sent back as the Content-Type of the file: a browser reading
// "image/png; x=1, text/html" takes the last type after a comma, so a
// script that only lets image/* through would serve HTML.
bool is_media_type(std::string_view text) {
  std::size_t at = 0;
  auto token = [&] {
    std::size_t from = at;
    while (at < text.size() && token_char(static_cast<unsigned char>(text[at]))) ++at;
    return at > from;
  };
  auto spaces = [&] {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
  };
  auto quoted_string = [&] {
    if (at >= text.size() || text[at] != '"') return false;
    for (++at; at < text.size(); ++at) {
      unsigned char c = static_cast<unsigned char>(text[at]);
      if (c == '"') return ++at, true;
      if (c == '\\' && ++at >= text.size()) return false;
      if (text[at] == ',') return false;  // allowed by the grammar, escaped or not; refused lest a reader split on it
    }
    return false;
  };
  if (!token() || at >= text.size() || text[at++] != '/' || !token()) return false;
  for (;;) {
    spaces();
    if (at == text.size()) return true;
    if (text[at++] != ';') return false;
    spaces();
    if (at == text.size()) return true;
    if (text[at] == ';') continue;
    if (!token() || at >= text.size() || text[at++] != '=') return false;
    if (!token() && !quoted_string()) return false;
  }
}

// The types browsers need to show or play a file; anything else is
// application/octet-stream unless the uploader names its type.
constexpr std::array<std::pair<std::string_view, std::string_view>, 30> kTypesByExtension{{
    {"avif", "image/avif"},      {"bmp", "image/bmp"},         {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"}, {"gif", "image/gif"},  {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"}, {"html", "text/html; charset=utf-8"}, {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},      {"jpg", "image/jpeg"},        {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"}, {"md", "text/markdown; charset=utf-8"}, {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},        {"ogg", "audio/ogg"},         {"pdf", "application/pdf"},
    {"png", "image/png"},        {"svg", "image/svg+xml"},     {"tar", "application/x-tar"},
    {"txt", "text/plain; charset=utf-8"}, {"wasm", "application/wasm"}, {"wav", "audio/wav"},
    {"webm", "video/webm"},      {"webp", "image/webp"},       {"woff", "font/woff"},
    {"woff2", "font/woff2"},     {"xml", "application/xml"},   {"zip", "application/zip"},
}};

std::string_view type_by_extension(std::string_view name) {
  std::size_t dot = name.rfind('.');
  std::size_t slash = name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return kDefaultContentType;
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [e, type] : kTypesByExtension)
    if (e == ext) return type;
  return kDefaultContentType;
}

}  // namespace

sdk::Result<void> check_collection(std::string_view name) { return sdk::check_collection_name(name); }

sdk::Result<void> check_name(std::string_view name) {
  if (name.empty()) return make_error(ErrorKind::invalid_argument, "file name is empty");
  if (name.size() > kMaxNameBytes)
    return make_error(ErrorKind::invalid_argument, "file name is " + std::to_string(name.size()) +
                                                       " bytes; at most " + std::to_string(kMaxNameBytes));
  if (!sdk::is_utf8(name)) return make_error(ErrorKind::invalid_argument, "file name is not valid UTF-8");
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    // C0, DEL, and C1 (U+0080-U+009F: 0xC2 0x80-0x9F in UTF-8).
    bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7f || c1)
      return make_error(ErrorKind::invalid_argument, "file name contains a control character");
  }
  return {};
}

sdk::Result<std::string> content_type_for(std::string_view given, std::string_view name) {
  if (given.empty()) return std::string(type_by_extension(name));
  if (given.size() > kMaxContentTypeBytes)
    return make_error(ErrorKind::invalid_argument, "content type is longer than " +
                                                       std::to_string(kMaxContentTypeBytes) + " bytes");
  for (unsigned char c : given)
    if (c < 0x20 || c == 0x7f)
      return make_error(ErrorKind::invalid_argument, "content type contains a control character");
  if (!is_media_type(given))
    return make_error(ErrorKind::invalid_argument,
                      "content type '" + std::string(given) +
                          "' is not a media type such as image/png or text/plain; charset=utf-8");
  return std::string(given);
}

sdk::Result<std::string> encode_metadata(const sdk::Value& metadata) {
  if (metadata.is_null()) return std::string("{}");
  if (!metadata.is_object()) return make_error(ErrorKind::invalid_argument, "metadata must be a JSON object");
  if (auto bad = sdk::unstorable_part(metadata, "metadata"); !bad.empty())
    return make_error(ErrorKind::invalid_argument, bad);
  std::string text = sdk::to_json(metadata);
  if (text.size() > kMaxMetadataBytes)
    return make_error(ErrorKind::invalid_argument, "metadata is " + std::to_string(text.size()) +
                                                       " bytes of JSON; at most " + std::to_string(kMaxMetadataBytes));
  if (!sdk::is_utf8(text)) return make_error(ErrorKind::invalid_argument, "metadata holds text that is not valid UTF-8");
  return text;
}

sdk::Result<void> check_size(std::int64_t size, const Limits& limits) {
  if (size > limits.max_file_bytes)
    return make_error(ErrorKind::invalid_argument, "file_too_large",
                      "file is " + std::to_string(size) + " bytes; at most " + std::to_string(limits.max_file_bytes) +
                          " ([files] max_file_bytes)");
  return {};
}

sdk::TriggerKind trigger_kind() {
  return sdk::collection_trigger_kind(
      "files", "runs a script when files of a collection are stored, replaced or deleted",
      {"insert", "update", "delete"},
      {{"collection", "the collection's name"},
       {"name", "the file's name"},
       {"file", "the file's metadata after the change, as head() gives it (null for delete); never its bytes"},
       {"previous", "the file's metadata before the change (null for insert)"}});
}

}  // namespace picloud::files
