// What a script asks to send (email::send's json), checked and turned into
// an RFC 5322 message with MIME parts (RFC 2045-2047, 2231):
//
//   {"from": "Shop <shop@example.com>", "to": "a@example.com" | [...],
//    "cc": [...], "bcc": [...], "reply_to": "..." | [...], "subject": "...",
//    "text": "...", "html": "...",           at least one; both: multipart/alternative
//    "headers": {"X-Campaign": "...", "List-Unsubscribe": "...", ...},
//    "attachments": [{"name": "a.pdf", "type": "application/pdf",
//                     "content_base64": "..." | "content": "text"}]}
//
// Every refusal is invalid_argument naming the field. No header value may
// hold CR or LF (or any control character); addresses are checked against
// a conservative form of RFC 5322's addr-spec; the whole message is capped.
//
// Hand-written over Poco's encoders (quoted-printable, base64, RFC 2047
// words): Poco's MailMessage cannot nest multipart/alternative inside
// multipart/mixed, nor leave out the headers we refuse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <picloud/sdk/error.hpp>
#include <picloud/sdk/value.hpp>

namespace picloud::email {

struct Address {
  std::string display;  // may be empty
  std::string address;  // local@domain
};

struct Attachment {
  std::string name;
  std::string type;
  std::string content;  // the bytes
};

struct MessageLimits {
  std::size_t max_message_bytes = 25u << 20;
  std::size_t max_recipients = 50;
  // Empty: any sender domain; else the From address's domain must be one of
  // these (lower case).
  std::vector<std::string> allowed_from_domains;
};

struct MessageSpec {
  Address from;
  std::vector<Address> to, cc, bcc, reply_to;
  std::string subject, text, html;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Attachment> attachments;

  // The envelope's recipients: to, cc and bcc, each address once.
  std::vector<std::string> recipients() const;
};

sdk::Result<MessageSpec> read_message(const sdk::Value& json, const MessageLimits& limits);

// The message's bytes with CRLF line ends, its Message-ID <id@domain> and
// the Date `now_s` (Unix seconds). Bcc appears in no header. Refused when
// larger than the limit.
sdk::Result<std::string> compose(const MessageSpec& spec, const std::string& id, const std::string& domain,
                                 std::int64_t now_s, const MessageLimits& limits);

// Checks an addr-spec (local@domain).
bool valid_address(const std::string& address);

}  // namespace picloud::email
