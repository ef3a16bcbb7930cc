#include "docs_paths.hpp"

#include "picloud/sdk/json_parse.hpp"

namespace picloud::docs {

sdk::Result<Path> parse_path(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return sdk::make_error(sdk::ErrorKind::invalid_argument, "path '" + std::string(text) + "': " + why);
  };
  if (text.empty()) return sdk::make_error(sdk::ErrorKind::invalid_argument, "path is empty");
  if (!sdk::is_utf8(text)) return bad("not valid UTF-8");
  Path path{{}, std::string(text)};
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = text.find('.', start);
    std::string_view segment = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (segment.empty()) return bad("has an empty segment");
    if (segment.size() > kMaxSegmentBytes)
      return bad("a segment is longer than " + std::to_string(kMaxSegmentBytes) + " bytes");
    if (segment[0] == '$') return bad("a segment starts with '$' (operators go inside an object: {\"$gt\": 5})");
    for (unsigned char c : segment) {
      if (c < 0x20 || c == 0x7F) return bad("holds a control character");
      if (c == '\'' || c == '"' || c == '\\' || c == '[' || c == ']')
        return bad(std::string("holds '") + static_cast<char>(c) + "', which field names in paths may not");
    }
    path.segments.emplace_back(segment);
    if (path.segments.size() > kMaxPathDepth) return bad("is deeper than " + std::to_string(kMaxPathDepth) + " levels");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return path;
}

}  // namespace picloud::docs
