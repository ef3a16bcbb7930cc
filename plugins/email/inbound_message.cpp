#include "inbound_message.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/QuotedPrintableDecoder.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <sstream>

#include <picloud/sdk/text.hpp>

#include "message.hpp"

namespace picloud::email {
namespace {

using sdk::ErrorKind;
using sdk::Result;
using sdk::Value;

sdk::Error malformed(const std::string& why) {
  return sdk::make_error(ErrorKind::invalid_argument, "malformed_message", "the message cannot be read: " + why);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string latin1_to_utf8(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

// Text as UTF-8: kept when it is, else read as ISO-8859-1 (never invalid).
std::string as_utf8(const std::string& s) { return sdk::is_utf8(s) ? s : latin1_to_utf8(s); }

std::string base64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

std::string read_all(std::istream& in) { return std::string(std::istreambuf_iterator<char>(in), {}); }

std::string decode_body(const std::string& encoding, std::istream& in) {
  const std::string e = lower(encoding);
  if (e == "base64") {
    Poco::Base64Decoder d(in);
    return read_all(d);
  }
  if (e == "quoted-printable") {
    Poco::Net::QuotedPrintableDecoder d(in);
    return read_all(d);
  }
  return read_all(in);
}

Value attachment(const std::string& name, const std::string& type, const std::string& content) {
  return Value::object({{"name", name},
                        {"type", type},
                        {"size", static_cast<std::int64_t>(content.size())},
                        {"content_base64", base64(content)}});
}

struct Collected {
  std::string text, html;
  sdk::Array attachments;
};

std::string param(const std::string& header_value, const std::string& name) {
  std::string value;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(header_value, value, params);
  return params.get(name, "");
}

Result<void> collect(const Poco::Net::MessageHeader& header, std::istream& in, int depth, Collected& out,
                     const InboundLimits& limits) {
  if (depth > limits.max_depth) return malformed("multiparts are nested deeper than " + std::to_string(limits.max_depth));
  const std::string content_type = header.get("Content-Type", "text/plain");
  std::string type;
  Poco::Net::NameValueCollection params;
  Poco::Net::MessageHeader::splitParameters(content_type, type, params);
  type = lower(type);
  if (type.rfind("multipart/", 0) == 0) {
    const std::string boundary = params.get("boundary", "");
    if (boundary.empty()) return malformed("a multipart part has no boundary");
    Poco::Net::MultipartReader reader(in, boundary);
    while (reader.hasNextPart()) {
      Poco::Net::MessageHeader part;
      reader.nextPart(part);
      if (auto r = collect(part, reader.stream(), depth + 1, out, limits); !r) return r;
    }
    // The epilogue after the closing boundary ends this part too: read it,
    // or an enclosing reader takes it for the start of its next part.
    in.ignore(std::numeric_limits<std::streamsize>::max());
    return {};
  }
  std::string content = decode_body(header.get("Content-Transfer-Encoding", "7bit"), in);
  const std::string disposition = header.get("Content-Disposition", "");
  std::string filename = as_utf8(decode_words(param(disposition, "filename")));
  if (filename.empty()) filename = as_utf8(decode_words(params.get("name", "")));
  const bool is_attachment = lower(disposition).rfind("attachment", 0) == 0 || !filename.empty();
  if (!is_attachment && type == "text/plain" && out.text.empty()) {
    out.text = as_utf8(content);
  } else if (!is_attachment && type == "text/html" && out.html.empty()) {
    out.html = as_utf8(content);
  } else {
    if (out.attachments.size() >= limits.max_attachments)
      return malformed("more than " + std::to_string(limits.max_attachments) + " attachments");
    out.attachments.push_back(attachment(filename.empty() ? "unnamed" : filename, as_utf8(type), content));
  }
  return {};
}

// The addresses of a header: "A <a@x>, b@y" -> ["A <a@x>", "b@y"] (commas
// inside quotes kept).
sdk::Array address_list(const std::string& value) {
  sdk::Array out;
  std::string item;
  bool quoted = false;
  auto flush = [&] {
    auto b = item.find_first_not_of(" \t\r\n");
    auto e = item.find_last_not_of(" \t\r\n");
    if (b != std::string::npos) out.emplace_back(as_utf8(decode_words(item.substr(b, e - b + 1))));
    item.clear();
  };
  for (char c : value) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) flush();
    else item += c;
  }
  flush();
  return out;
}

Result<Value> address_field(const Value& v, const std::string& field, bool required) {
  sdk::Array out;
  if (v.is_string()) {
    out.push_back(v);
  } else if (v.is_array()) {
    for (const auto& a : v.as_array()) {
      if (!a.is_string()) return malformed(field + " must hold strings");
      out.push_back(a);
    }
  } else if (!v.is_null()) {
    return malformed(field + " must be an address or a list of addresses");
  }
  if (required && out.empty()) return malformed(field + " is required");
  return Value(std::move(out));
}

}  // namespace

std::string decode_words(const std::string& value) {
  std::string out;
  std::size_t at = 0;
  bool last_was_word = false;
  while (at < value.size()) {
    auto start = value.find("=?", at);
    if (start == std::string::npos) {
      out += value.substr(at);
      break;
    }
    auto q1 = value.find('?', start + 2);
    auto q2 = q1 == std::string::npos ? q1 : value.find('?', q1 + 1);
    auto end = q2 == std::string::npos ? q2 : value.find("?=", q2 + 1);
    if (end == std::string::npos) {
      out += value.substr(at);
      break;
    }
    std::string between = value.substr(at, start - at);
    // White space between two encoded words is not part of the text.
    if (!(last_was_word && between.find_first_not_of(" \t\r\n") == std::string::npos)) out += between;
    std::string charset = lower(value.substr(start + 2, q1 - start - 2));
    if (auto star = charset.find('*'); star != std::string::npos) charset.resize(star);  // RFC 2231 language
    const char encoding = static_cast<char>(std::toupper(static_cast<unsigned char>(value[q1 + 1])));
    const std::string text = value.substr(q2 + 1, end - q2 - 1);
    std::string decoded;
    bool ok = q2 == q1 + 2;
    if (ok && encoding == 'B') {
      std::istringstream in(text);
      Poco::Base64Decoder d(in);
      try {
        decoded = read_all(d);
      } catch (const Poco::Exception&) {
        ok = false;
      }
    } else if (ok && encoding == 'Q') {
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '_') decoded += ' ';
        else if (text[i] == '=' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
          decoded += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else decoded += text[i];
      }
    } else {
      ok = false;
    }
    if (ok && (charset == "iso-8859-1" || charset == "latin1")) decoded = latin1_to_utf8(decoded);
    else if (ok && charset != "utf-8" && charset != "us-ascii") ok = false;
    out += ok ? as_utf8(decoded) : value.substr(start, end + 2 - start);
    last_was_word = ok;
    at = end + 2;
  }
  return out;
}

Result<Value> read_inbound_json(const Value& body, const InboundLimits& limits) {
  if (!body.is_object()) return malformed("the JSON body must be an object");
  static const char* known[] = {"from", "to", "cc", "subject", "text", "html", "message_id", "headers", "attachments"};
  for (const auto& [name, v] : body.as_object())
    if (std::find(std::begin(known), std::end(known), name) == std::end(known))
      return malformed("'" + name + "' is not a field of the message (from, to, cc, subject, text, html, message_id, headers, attachments)");
  if (!body["from"].is_string() || body["from"].as_string().empty()) return malformed("from is required (a string)");
  auto to = address_field(body["to"], "to", true);
  if (!to) return to.error();
  auto cc = address_field(body["cc"], "cc", false);
  if (!cc) return cc.error();
  for (const char* field : {"subject", "text", "html", "message_id"})
    if (!body[field].is_null() && !body[field].is_string()) return malformed(std::string(field) + " must be a string");
  const Value& headers = body["headers"];
  sdk::Object header_fields;
  if (!headers.is_null()) {
    if (!headers.is_object()) return malformed("headers must be an object of strings");
    for (const auto& [k, v] : headers.as_object()) {
      if (!v.is_string()) return malformed("headers." + k + " must be a string");
      header_fields.emplace(lower(k), v);
    }
  }
  sdk::Array attachments;
  const Value& given = body["attachments"];
  if (!given.is_null()) {
    if (!given.is_array()) return malformed("attachments must be a list");
    if (given.size() > limits.max_attachments) return malformed("more than " + std::to_string(limits.max_attachments) + " attachments");
    for (const auto& a : given.as_array()) {
      if (!a.is_object() || !a["content_base64"].is_string())
        return malformed("each attachment is {name, type, content_base64}");
      std::istringstream in(a["content_base64"].as_string());
      Poco::Base64Decoder d(in);
      std::string content;
      try {
        content = read_all(d);
      } catch (const Poco::Exception&) {
        return malformed("an attachment's content_base64 is not base64");
      }
      attachments.push_back(attachment(a["name"].string_or("unnamed"), a["type"].string_or("application/octet-stream"), content));
    }
  }
  return Value::object({{"from", body["from"]},
                        {"to", std::move(*to)},
                        {"cc", std::move(*cc)},
                        {"subject", body["subject"].string_or("")},
                        {"text", body["text"].string_or("")},
                        {"html", body["html"].string_or("")},
                        {"message_id", body["message_id"].string_or("")},
                        {"headers", Value(std::move(header_fields))},
                        {"attachments", Value(std::move(attachments))}});
}

Result<Value> read_inbound_mime(const std::string& raw, const InboundLimits& limits) {
  try {
    std::istringstream in(raw);
    Poco::Net::MessageHeader header;
    header.read(in);
    if (!header.has("From")) return malformed("it has no From header");
    Collected parts;
    if (auto r = collect(header, in, 0, parts, limits); !r) return r.error();
    sdk::Object headers;
    for (const auto& [name, value] : header) {
      std::string key = as_utf8(lower(name));
      if (!headers.count(key)) headers.emplace(key, Value(as_utf8(decode_words(value))));
    }
    return Value::object({{"from", as_utf8(decode_words(header.get("From")))},
                          {"to", Value(address_list(header.get("To", "")))},
                          {"cc", Value(address_list(header.get("Cc", "")))},
                          {"subject", as_utf8(decode_words(header.get("Subject", "")))},
                          {"text", std::move(parts.text)},
                          {"html", std::move(parts.html)},
                          {"message_id", as_utf8(header.get("Message-ID", ""))},
                          {"headers", Value(std::move(headers))},
                          {"attachments", Value(std::move(parts.attachments))}});
  } catch (const Poco::Exception& e) {
    return malformed(e.displayText());
  } catch (const std::exception& e) {
    return malformed(e.what());
  }
}

}  // namespace picloud::email
