// The daemon's config file (daemon/config). Properties: it parses or
// throws rg::Error (anything else is a finding), and every error names the
// file, and the line when it is a line's ("FILE:LINE: ..."), with a line
// number within the file (a line of an allow_file names that file's line,
// then the config's).
#include "config.hpp"
#include "error.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstdint>

namespace {

// Relative allow_file, block_file and api_key_file paths resolve here: not
// a directory, so they cannot be read.
const std::string kPath = "/nonexistent-relayguard-fuzz/relayguard.conf";

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string_view text = rg_fuzz::text_of(data, size);
    // An absolute file key could name /dev/zero or a FIFO, which would be
    // read forever: not the parser's to prevent, so such inputs are left out.
    for (std::string_view dir : {"dev", "proc", "sys"})
        if (text.find(dir) != std::string_view::npos)
            return -1;
    try {
        rg::parse_config(text, kPath);
    } catch (const rg::Error &e) {
        std::string_view msg = e.what();
        // A line of an allow_file or block_file is named as "FILE:LINE: ...
        // (from CONFIG:LINE: ...)".
        if (msg.find("(from " + kPath + ":") != std::string_view::npos)
            return 0;
        FUZZ_CHECK(msg.starts_with(kPath + ":"), "an error that does not name the file: " + std::string(msg));
        std::string_view after = msg.substr(kPath.size() + 1);
        size_t digits = 0;
        while (digits < after.size() && after[digits] >= '0' && after[digits] <= '9')
            digits++;
        if (digits > 0 && digits < after.size() && after[digits] == ':') {
            size_t line = std::stoul(std::string(after.substr(0, digits)));
            size_t lines = size_t(std::count(text.begin(), text.end(), '\n')) + 1;
            FUZZ_CHECK(line >= 1 && line <= lines, "an error at line " + std::to_string(line) + " of " +
                                                       std::to_string(lines));
        }
    }
    return 0;
}
