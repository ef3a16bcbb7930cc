#include "docs_sql.hpp"

namespace picloud::docs {

// Segments are validated by parse_path to hold no quote or backslash, so
// they can be spelled inside quoted literals as they are.
std::string DocSql::json_path(const Path& path) const {
  std::string out = "'$";
  for (const auto& s : path.segments) out += ".\"" + s + "\"";
  return out + "'";
}

std::string DocSql::jsonb_at(const Path& path, std::string_view column) const {
  std::string out(column);
  // ->'k'::text: a text key, so a segment of digits never indexes an array.
  for (const auto& s : path.segments) out += "->'" + s + "'::text";
  return out;
}

std::string DocSql::value(const Path& path, std::string_view column) const {
  if (sqlite()) return "json_extract(" + std::string(column) + ", " + json_path(path) + ")";
  return "NULLIF(" + jsonb_at(path, column) + ", 'null'::jsonb)";
}

std::string DocSql::type(const Path& path, std::string_view column) const {
  if (sqlite()) return "json_type(" + std::string(column) + ", " + json_path(path) + ")";
  return "jsonb_typeof(" + jsonb_at(path, column) + ")";
}

Loc DocSql::field(const Loc& loc, std::string_view segment) const {
  Loc out = loc;
  if (sqlite())
    out.suffix += ".\"" + std::string(segment) + "\"";
  else
    out.suffix += "->'" + std::string(segment) + "'::text";
  return out;
}

Loc DocSql::position(const Loc& loc, std::size_t index) const {
  Loc out = loc;
  out.suffix += sqlite() ? "[" + std::to_string(index) + "]" : "->" + std::to_string(index);
  return out;
}

// SQLite reads every place from the document's text with a JSON path: the
// element's path (fullkey, e.g. '$."items"[2]') and what follows it.
static std::string sqlite_path(const Loc& loc) {
  if (loc.element.empty()) return "'$" + loc.suffix + "'";
  return loc.element + ".fullkey || '" + loc.suffix + "'";
}

static std::string jsonb_of(const Loc& loc) { return (loc.element.empty() ? "d.data" : loc.element + ".v") + loc.suffix; }

std::string DocSql::value(const Loc& loc) const {
  if (sqlite())
    return !loc.element.empty() && loc.suffix.empty() ? loc.element + ".value"
                                                      : "json_extract(d.data, " + sqlite_path(loc) + ")";
  return "NULLIF(" + jsonb_of(loc) + ", 'null'::jsonb)";
}

std::string DocSql::type(const Loc& loc) const {
  if (sqlite())
    return !loc.element.empty() && loc.suffix.empty() ? loc.element + ".type"
                                                      : "json_type(d.data, " + sqlite_path(loc) + ")";
  return "jsonb_typeof(" + jsonb_of(loc) + ")";
}

std::string DocSql::elements(const Loc& loc, const std::string& alias) const {
  if (sqlite()) return "json_each(d.data, " + sqlite_path(loc) + ") AS " + alias;
  const std::string at = jsonb_of(loc);
  return "jsonb_array_elements(CASE WHEN jsonb_typeof(" + at + ") = 'array' THEN " + at + " ELSE '[]'::jsonb END) AS " +
         alias + "(v)";
}

std::string DocSql::text(const Loc& loc) const { return jsonb_of(loc) + " #>> '{}'"; }

std::string DocSql::array_length(const Loc& loc) const {
  if (sqlite()) return "json_array_length(d.data, " + sqlite_path(loc) + ")";
  const std::string at = jsonb_of(loc);
  return "jsonb_array_length(CASE WHEN jsonb_typeof(" + at + ") = 'array' THEN " + at + " END)";
}

std::string DocSql::object_size(const Loc& loc) const {
  if (sqlite()) return "(SELECT count(*) FROM json_each(d.data, " + sqlite_path(loc) + "))";
  const std::string at = jsonb_of(loc);
  return "(SELECT count(*) FROM jsonb_object_keys(CASE WHEN jsonb_typeof(" + at + ") = 'object' THEN " + at +
         " END))";
}

std::vector<DocSql::SortTerm> DocSql::sort_expressions(const Path& path) const {
  const std::string t = type(path, "d.data");
  if (sqlite())
    return {{"CASE " + t +
                 " WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3"
                 " WHEN 'array' THEN 4 WHEN 'false' THEN 5 WHEN 'true' THEN 5 ELSE 0 END",
             ""},
            {value(path, "d.data"), ""}};
  return {{"CASE " + t +
               " WHEN 'number' THEN 1 WHEN 'string' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4"
               " WHEN 'boolean' THEN 5 ELSE 0 END",
           ""},
          {"(CASE WHEN " + t + " = 'string' THEN " + jsonb_at(path, "d.data") + " #>> '{}' END) COLLATE \"C\"", ""},
          {value(path, "d.data"), "::jsonb"}};
}

std::string DocSql::bytewise_text(const Path& path, std::string_view column) const {
  return "(" + jsonb_at(path, column) + " #>> '{}') COLLATE \"C\"";
}

}  // namespace picloud::docs
