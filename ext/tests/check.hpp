// The tiny test harness shared by the C++ unit tests: CHECK counts, a failure prints
// the test, file, line and condition; finish() prints the closing line and the exit code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>

static int g_passed = 0, g_failed = 0;
static const char* g_test = "";

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (cond) {                                                                \
      ++g_passed;                                                              \
    } else {                                                                   \
      ++g_failed;                                                              \
      std::printf("FAIL %s (%s:%d): %s\n", g_test, __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)
#define CHECK_NEAR(a, b, tol) CHECK(std::fabs((a) - (b)) <= (tol))

constexpr int64_t T0 = 1764205200000;  // 2025-11-27 09:00 Asia/Shanghai

// "N passed, N failed" (the closing line CI reads); the process's exit code.
static int finish() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
