// What an app's script may send to a client. A script's response is data
// that the server puts on the wire; the rules here keep a script from
// speaking for the server or the admin API through it:
//   - a status outside 200-599 (a 1xx would switch or confuse the client's
//     framing) turns the answer into a 502 script_error, as any other script
//     failure;
//   - header names must be tokens and values free of CR, LF and NUL (no
//     response splitting), else the same 502;
//   - hop-by-hop headers (Connection, Upgrade, Transfer-Encoding, ... see
//     wire.hpp) are dropped: the server frames the response itself;
//   - a Set-Cookie for the admin session cookie (picloud_session, also with a
//     __Host- or __Secure- prefix, in any case) is dropped, so an app on a
//     host that shares cookies with the admin API cannot plant a session.
// (A 204 or 304 goes out without a body, as from any handler: wire.hpp.)
// The dispatcher applies it to every script response it serves, in one place.
#pragma once

#include "picloud/sdk/http.hpp"

namespace picloud::kernel::http {

sdk::HttpResponse app_response(sdk::HttpResponse response);

}  // namespace picloud::kernel::http
