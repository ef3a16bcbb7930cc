// A received message, as an `email` trigger's handler sees it, read from
// what a provider's inbound webhook POSTs:
//
//   application/json     the generic shape {from, to, cc, subject, text,
//                        html, message_id, headers, attachments:
//                        [{name, type, content_base64}]} (to and cc: an
//                        address or a list)
//   message/rfc822       the raw message (RFC 5322 with MIME parts, nested
//                        multiparts, base64 and quoted-printable bodies,
//                        RFC 2047 words in headers)
//
// Either way the event carries {from, to, cc, subject, text, html,
// message_id, headers, attachments: [{name, type, size, content_base64}]}.
// A body that is neither is invalid_argument (the webhook's 422).
#pragma once

#include <string>

#include <picloud/sdk/error.hpp>
#include <picloud/sdk/value.hpp>

namespace picloud::email {

struct InboundLimits {
  std::size_t max_attachments = 50;
  int max_depth = 8;  // nested multiparts
};

sdk::Result<sdk::Value> read_inbound_json(const sdk::Value& body, const InboundLimits& limits);
sdk::Result<sdk::Value> read_inbound_mime(const std::string& raw, const InboundLimits& limits);

// RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value, decoded
// to UTF-8 (UTF-8, US-ASCII and ISO-8859-1 charsets; others left as they are).
std::string decode_words(const std::string& value);

}  // namespace picloud::email
