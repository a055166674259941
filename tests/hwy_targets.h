// Runs a test body once on every Highway target this machine supports and
// the build compiled, so each vectorized kernel is checked on all of them.
#pragma once

#include <gtest/gtest.h>
#include <hwy/targets.h>

namespace dsv32::testing {

template <typename Fn>
void ForEachHwyTarget(Fn fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn();
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace dsv32::testing
