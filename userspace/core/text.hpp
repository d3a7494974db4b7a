// Text that leaves relayguard: strings from outside (feed downloads, HTTP
// headers, file paths, interface names, error messages that quote them) on
// their way to a terminal, a log line or a JSON document. Neither may be
// broken by one byte: JSON must stay valid UTF-8, and a terminal or the
// journal must never receive a raw control character (an escape sequence
// can rewrite the screen, a newline can forge a log line).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace rg {

// s for a terminal or a log line: every control character (C0, DEL, and C1
// encoded in UTF-8) and every byte that is not part of valid UTF-8 written
// as \xNN (C1 as \u0080..\u009f), the rest unchanged. A backslash is left
// as it is: the result is for reading, not for parsing back.
std::string printable(std::string_view s);

// j as JSON text, as nlohmann's dump(indent) (-1: one line), except that a
// string that is not valid UTF-8 has its bad bytes replaced by U+FFFD
// instead of making dump() throw (type_error 316). Every JSON document
// relayguard prints or writes goes through here.
std::string json_text(const nlohmann::json &j, int indent = -1);

} // namespace rg
