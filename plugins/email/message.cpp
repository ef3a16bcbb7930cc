#include "message.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/QuotedPrintableEncoder.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>
#include <set>
#include <sstream>

#include <picloud/sdk/text.hpp>

namespace picloud::email {
namespace {

using sdk::ErrorKind;
using sdk::Result;
using sdk::Value;

sdk::Error bad(const std::string& field, const std::string& why) {
  return sdk::make_error(ErrorKind::invalid_argument, "invalid_message", "email: " + field + ": " + why);
}

// Headers a script may set beyond the ones the message's fields make.
bool settable_header(const std::string& lower) {
  static const std::set<std::string> allowed = {"list-unsubscribe", "list-unsubscribe-post", "list-id", "in-reply-to",
                                                "references", "auto-submitted", "precedence", "keywords"};
  return allowed.count(lower) || lower.rfind("x-", 0) == 0;
}

bool header_name(const std::string& name) {
  if (name.empty() || name.size() > 76) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

// No control character at all (CR and LF above all: header injection).
bool plain_line(const std::string& value) {
  return std::none_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A header value of free text: kept as is when short ASCII, else RFC 2047.
std::string encoded_text(const std::string& text) {
  if (ascii(text) && text.size() <= 900) return text;
  return Poco::Net::MailMessage::encodeWord(text, "UTF-8");
}

std::string format_address(const Address& a) {
  if (a.display.empty()) return a.address;
  if (!ascii(a.display)) return Poco::Net::MailMessage::encodeWord(a.display, "UTF-8") + " <" + a.address + ">";
  std::string quoted = "\"";
  for (char c : a.display) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\" <" + a.address + ">";
}

std::string address_list(const std::vector<Address>& list) {
  std::string out;
  for (const auto& a : list) out += (out.empty() ? "" : ",\r\n ") + format_address(a);
  return out;
}

Result<Address> parse_address(const std::string& field, const Value& v) {
  if (!v.is_string()) return bad(field, "an address must be a string");
  const std::string& s = v.as_string();
  if (!plain_line(s) || !sdk::is_utf8(s)) return bad(field, "an address may not hold control characters (CR, LF)");
  Address a;
  auto open = s.rfind('<');
  if (open != std::string::npos) {
    if (s.back() != '>') return bad(field, "'" + s + "' is not 'Name <local@domain>'");
    a.address = s.substr(open + 1, s.size() - open - 2);
    std::string display = s.substr(0, open);
    while (!display.empty() && display.back() == ' ') display.pop_back();
    while (!display.empty() && display.front() == ' ') display.erase(0, 1);
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"') display = display.substr(1, display.size() - 2);
    if (display.size() > 200) return bad(field, "the display name is longer than 200 bytes");
    a.display = display;
  } else {
    a.address = s;
  }
  if (!valid_address(a.address)) return bad(field, "'" + a.address + "' is not an address (local@domain)");
  return a;
}

Result<std::vector<Address>> parse_list(const std::string& field, const Value& v, bool required) {
  std::vector<Address> out;
  if (v.is_null()) {
    if (required) return bad(field, "is required");
    return out;
  }
  if (v.is_string()) {
    auto a = parse_address(field, v);
    if (!a) return a.error();
    out.push_back(std::move(*a));
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      auto a = parse_address(field, item);
      if (!a) return a.error();
      out.push_back(std::move(*a));
    }
  } else {
    return bad(field, "must be an address or a list of addresses");
  }
  if (required && out.empty()) return bad(field, "needs at least one address");
  return out;
}

Result<std::string> optional_text(const std::string& field, const Value& v) {
  if (v.is_null()) return std::string();
  if (!v.is_string()) return bad(field, "must be a string");
  if (!sdk::is_utf8(v.as_string())) return bad(field, "must be UTF-8 text");
  return v.as_string();
}

Result<std::string> decode_base64(const std::string& field, const std::string& text) {
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n'))
      return bad(field, "is not base64");
  try {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return out;
  } catch (const std::exception&) {
    return bad(field, "is not base64");
  }
}

// Text with its line ends as CRLF, quoted-printable (RFC 2045 §6.7).
std::string quoted_printable(const std::string& text) {
  std::string crlf;
  crlf.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      crlf += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      crlf += "\r\n";
    } else {
      crlf += text[i];
    }
  }
  std::ostringstream out;
  Poco::Net::QuotedPrintableEncoder encoder(out);
  encoder << crlf;
  encoder.close();
  return out.str();
}

std::string base64_lines(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(76);
  encoder << bytes;
  encoder.close();
  // Poco ends lines with CRLF already; a message ends each part's body
  // with one.
  return out.str() + "\r\n";
}

std::string boundary() {
  thread_local std::mt19937_64 random(std::random_device{}());
  static const char hex[] = "0123456789abcdef";
  std::string b = "=_picloud_";
  for (int i = 0; i < 24; ++i) b += hex[random() & 15];
  return b;
}

std::string text_part(const std::string& subtype, const std::string& body) {
  return "Content-Type: text/" + subtype + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
         quoted_printable(body) + "\r\n";
}

std::string multipart(const std::string& subtype, const std::vector<std::string>& parts) {
  const std::string b = boundary();
  std::string out = "Content-Type: multipart/" + subtype + "; boundary=\"" + b + "\"\r\n\r\n";
  for (const auto& part : parts) out += "--" + b + "\r\n" + part;
  return out + "--" + b + "--\r\n";
}

// RFC 2231 for a file name that is not plain ASCII.
std::string filename_param(const std::string& name) {
  bool plain = ascii(name) && name.find('"') == std::string::npos && name.find('\\') == std::string::npos;
  if (plain) return "filename=\"" + name + "\"";
  return "filename*=utf-8''" + sdk::percent_encode(name, "-._~!$&+^`|");
}

}  // namespace

bool valid_address(const std::string& address) {
  if (address.size() < 3 || address.size() > 254) return false;
  auto at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at > 64 || at + 1 == address.size()) return false;
  const std::string local = address.substr(0, at), domain = address.substr(at + 1);
  static const std::string specials = "!#$%&'*+/=?^_`{|}~.-";
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) return false;
  for (unsigned char c : local)
    if (!std::isalnum(c) && specials.find(static_cast<char>(c)) == std::string::npos) return false;
  std::size_t start = 0;
  for (;;) {
    auto dot = domain.find('.', start);
    std::string label = domain.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label)
      if (!std::isalnum(c) && c != '-') return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

std::vector<std::string> MessageSpec::recipients() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto* list : {&to, &cc, &bcc})
    for (const auto& a : *list)
      if (seen.insert(lower(a.address)).second) out.push_back(a.address);
  return out;
}

Result<MessageSpec> read_message(const Value& json, const MessageLimits& limits) {
  if (!json.is_object()) return bad("message", "must be an object");
  static const std::set<std::string> known = {"from", "to", "cc", "bcc", "reply_to", "subject",
                                              "text", "html", "headers", "attachments"};
  for (const auto& [name, v] : json.as_object())
    if (!known.count(name)) return bad(name, "is not a field of a message (from, to, cc, bcc, reply_to, subject, text, html, headers, attachments)");
  MessageSpec m;
  auto from = parse_list("from", json["from"], true);
  if (!from) return from.error();
  if (from->size() != 1) return bad("from", "must be one address");
  m.from = (*from)[0];
  if (!limits.allowed_from_domains.empty()) {
    std::string domain = lower(m.from.address.substr(m.from.address.rfind('@') + 1));
    if (std::find(limits.allowed_from_domains.begin(), limits.allowed_from_domains.end(), domain) ==
        limits.allowed_from_domains.end())
      return sdk::make_error(ErrorKind::forbidden, "sender_not_allowed",
                             "email: from: this server sends only from its allowed domains ([email] allowed_from_domains), not " + domain);
  }
  for (auto [field, list, required] : {std::tuple{"to", &m.to, true}, std::tuple{"cc", &m.cc, false},
                                       std::tuple{"bcc", &m.bcc, false}, std::tuple{"reply_to", &m.reply_to, false}}) {
    auto parsed = parse_list(field, json[field], required);
    if (!parsed) return parsed.error();
    *list = std::move(*parsed);
  }
  if (m.recipients().size() > limits.max_recipients)
    return bad("to", "at most " + std::to_string(limits.max_recipients) + " recipients in all (to, cc and bcc)");
  if (!json["subject"].is_string()) return bad("subject", "is required (a string)");
  m.subject = json["subject"].as_string();
  if (!plain_line(m.subject) || !sdk::is_utf8(m.subject)) return bad("subject", "may not hold control characters (CR, LF)");
  if (m.subject.size() > 900) return bad("subject", "is longer than 900 bytes");
  auto text = optional_text("text", json["text"]);
  if (!text) return text.error();
  auto html = optional_text("html", json["html"]);
  if (!html) return html.error();
  m.text = std::move(*text);
  m.html = std::move(*html);
  if (m.text.empty() && m.html.empty()) return bad("text", "a message needs a text or an html body");

  const Value& headers = json["headers"];
  if (!headers.is_null()) {
    if (!headers.is_object()) return bad("headers", "must be an object of names and string values");
    for (const auto& [name, v] : headers.as_object()) {
      if (!header_name(name)) return bad("headers." + name, "is not a header name");
      if (!settable_header(lower(name)))
        return bad("headers." + name, "cannot be set (allowed: X-*, List-Unsubscribe, List-Unsubscribe-Post, List-Id, In-Reply-To, References, Auto-Submitted, Precedence, Keywords)");
      if (!v.is_string()) return bad("headers." + name, "must be a string");
      if (!plain_line(v.as_string()) || !sdk::is_utf8(v.as_string()))
        return bad("headers." + name, "may not hold control characters (CR, LF)");
      if (v.as_string().size() > 900) return bad("headers." + name, "is longer than 900 bytes");
      m.headers.emplace_back(name, v.as_string());
    }
  }

  const Value& attachments = json["attachments"];
  std::size_t total = 0;
  if (!attachments.is_null()) {
    if (!attachments.is_array()) return bad("attachments", "must be a list");
    for (std::size_t i = 0; i < attachments.size(); ++i) {
      const Value& a = attachments[i];
      const std::string field = "attachments[" + std::to_string(i) + "]";
      if (!a.is_object()) return bad(field, "must be an object {name, type, content | content_base64}");
      for (const auto& [name, v] : a.as_object())
        if (name != "name" && name != "type" && name != "content" && name != "content_base64")
          return bad(field + "." + name, "is not a field of an attachment");
      Attachment att;
      if (!a["name"].is_string() || a["name"].as_string().empty() || a["name"].as_string().size() > 200 ||
          !plain_line(a["name"].as_string()) || !sdk::is_utf8(a["name"].as_string()) ||
          a["name"].as_string().find_first_of("/\\") != std::string::npos)
        return bad(field + ".name", "must be a file name of 1 to 200 bytes, without control characters or slashes");
      att.name = a["name"].as_string();
      att.type = a["type"].string_or("application/octet-stream");
      auto slash = att.type.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == att.type.size() || att.type.size() > 100 ||
          !std::all_of(att.type.begin(), att.type.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '/' || c == '-' || c == '+' || c == '.' || c == '_';
          }))
        return bad(field + ".type", "must be a media type such as application/pdf");
      if (a["content"].is_string() == a["content_base64"].is_string())
        return bad(field, "needs content (text) or content_base64, one of them");
      if (a["content"].is_string()) {
        att.content = a["content"].as_string();
      } else {
        auto bytes = decode_base64(field + ".content_base64", a["content_base64"].as_string());
        if (!bytes) return bytes.error();
        att.content = std::move(*bytes);
      }
      total += att.content.size();
      if (total > limits.max_message_bytes)
        return sdk::make_error(ErrorKind::invalid_argument, "too_large",
                               "email: the attachments are larger than the message cap of " +
                                   std::to_string(limits.max_message_bytes) + " bytes");
      m.attachments.push_back(std::move(att));
    }
  }
  return m;
}

Result<std::string> compose(const MessageSpec& m, const std::string& id, const std::string& domain, std::int64_t now_s,
                            const MessageLimits& limits) {
  std::time_t t = static_cast<std::time_t>(now_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char date[64];
  std::snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);

  std::string out;
  out += "Message-ID: <" + id + "@" + domain + ">\r\n";
  out += std::string("Date: ") + date + "\r\n";
  out += "From: " + format_address(m.from) + "\r\n";
  out += "To: " + address_list(m.to) + "\r\n";
  if (!m.cc.empty()) out += "Cc: " + address_list(m.cc) + "\r\n";
  if (!m.reply_to.empty()) out += "Reply-To: " + address_list(m.reply_to) + "\r\n";
  out += "Subject: " + encoded_text(m.subject) + "\r\n";
  for (const auto& [name, value] : m.headers) out += name + ": " + encoded_text(value) + "\r\n";
  out += "MIME-Version: 1.0\r\n";

  std::string body;
  if (!m.text.empty() && !m.html.empty())
    body = multipart("alternative", {text_part("plain", m.text), text_part("html", m.html)});
  else
    body = m.html.empty() ? text_part("plain", m.text) : text_part("html", m.html);
  if (!m.attachments.empty()) {
    std::vector<std::string> parts{body};
    for (const auto& a : m.attachments)
      parts.push_back("Content-Type: " + a.type + "\r\nContent-Disposition: attachment; " + filename_param(a.name) +
                      "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64_lines(a.content));
    body = multipart("mixed", parts);
  }
  out += body;
  if (out.size() > limits.max_message_bytes)
    return sdk::make_error(ErrorKind::invalid_argument, "too_large",
                           "email: the message is " + std::to_string(out.size()) + " bytes; the cap is " +
                               std::to_string(limits.max_message_bytes) + " ([email] max_message_bytes)");
  return out;
}

}  // namespace picloud::email
