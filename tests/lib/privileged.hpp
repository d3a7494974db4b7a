// Test helpers for tests that need root and a BPF-capable kernel.
//
// RG_REQUIRE_PRIVILEGED() skips the test with the reason when privileges are
// missing, and fails it instead when RELAYGUARD_REQUIRE_PRIVILEGED=1 is set
// (as CI sets it), so a CI run can never pass by skipping.
#pragma once

#include "lab.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace rg::test {

// Why privileged tests cannot run here, or nullopt if they can.
std::optional<std::string> missing_privilege();
bool privileged_required();

// Each test gets its own bpffs (see rg::lab::TempBpffs).
using PrivateBpffs = rg::lab::TempBpffs;

} // namespace rg::test

#define RG_REQUIRE_PRIVILEGED()                                                                \
    do {                                                                                       \
        if (auto rg_why_ = ::rg::test::missing_privilege()) {                                  \
            if (::rg::test::privileged_required())                                             \
                FAIL() << *rg_why_ << " (and RELAYGUARD_REQUIRE_PRIVILEGED=1 forbids skipping)"; \
            GTEST_SKIP() << *rg_why_;                                                          \
        }                                                                                      \
    } while (0)
