// Cross-site request forgery: a browser attaches the admin session cookie
// to any request bound for the admin API, whichever page started it.
// SameSite=Strict keeps other sites out, but not a sibling subdomain: an app
// served at shop.example.com is the same *site* as an admin API at
// admin.example.com, so a page there could make a signed-in owner's browser
// run a script or sign out with a plain form POST. So every request that may
// change something and relies on the cookie — and sign-in, against login
// CSRF — must come from a page of the API's own origin, which browsers state
// in the Origin and Sec-Fetch-Site headers. API keys need no such check: a
// page of another origin cannot set an Authorization header without a CORS
// preflight, which this API never grants.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "picloud/sdk/http.hpp"

namespace picloud::kernel::admin {

// Whether the method may change something: every method but GET, HEAD and
// OPTIONS.
bool changes_state(std::string_view method);

// Why the request was started by a page of another origin, or nothing when
// it was not (or when nothing says so). Refused:
//   - Sec-Fetch-Site: cross-site (another site altogether);
//   - an Origin header that is not this server's own origin: "null", a
//     malformed one, or one whose scheme, host or port differ from the
//     request's (Host, and X-Forwarded-Proto when a proxy sets it);
//   - Sec-Fetch-Site: same-site without an Origin (a sibling subdomain:
//     exactly the attacker described above).
// Allowed: a matching Origin, and a request with neither header. That is
// what tools such as curl send, and refusing them would break every script
// that signs in with a password. The price: a browser too old to send
// either header on a form post (Firefox before 70, from 2019) is not covered
// by this check; SameSite=Strict still keeps other sites out for it. Current
// browsers send Origin with every POST, PUT, PATCH and DELETE.
std::optional<std::string> foreign_origin(const sdk::HttpRequest& request);

}  // namespace picloud::kernel::admin
