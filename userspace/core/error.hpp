// Errors the controller reports: a message that says what and where, and the
// errno behind it when there is one.
#pragma once

#include <stdexcept>
#include <string>

namespace rg {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string &msg, int err = 0) : std::runtime_error(msg), err_(err) {}
    int err() const { return err_; }

private:
    int err_;
};

// Throws Error("what: strerror(err)", err), with a hint for the error users
// hit most (no privileges). err is an errno value, of either sign.
[[noreturn]] void throw_errno(const std::string &what, int err);

} // namespace rg
