// What the fuzz targets share: a property check that aborts (libFuzzer
// keeps the input that broke it as a crash), and quieter logging (every
// bad input would otherwise log a line).
#pragma once

#include "log.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

// A property that must hold for every input.
#define FUZZ_CHECK(cond, what)                                                                      \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            std::fprintf(stderr, "%s:%d: property failed: %s: %s\n", __FILE__, __LINE__, #cond,     \
                         std::string(what).c_str());                                               \
            std::abort();                                                                           \
        }                                                                                           \
    } while (0)

namespace rg_fuzz {

// Only errors are logged while fuzzing.
inline void quiet()
{
    rg::set_log_level(rg::LogLevel::error);
}

inline std::string_view text_of(const uint8_t *data, size_t size)
{
    return {reinterpret_cast<const char *>(data), size};
}

} // namespace rg_fuzz
