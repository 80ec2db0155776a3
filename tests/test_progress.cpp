// The progress lines of long runs: durations, the time-left estimate and the [k/N] lines.
#include <gtest/gtest.h>

#include "harness/progress.h"

namespace wb {
namespace {

TEST(Progress, DurationsReadAsAPersonWouldSayThem) {
    EXPECT_EQ(format_duration(0.42), "0.4 s");
    EXPECT_EQ(format_duration(9.0), "9.0 s");
    EXPECT_EQ(format_duration(45.4), "45 s");
    EXPECT_EQ(format_duration(59.6), "1 min 00 s");
    EXPECT_EQ(format_duration(185), "3 min 05 s");
    EXPECT_EQ(format_duration(3599), "59 min 59 s");
    EXPECT_EQ(format_duration(3720), "1 h 02 min");
    EXPECT_EQ(format_duration(-3), "0.0 s");
}

TEST(Progress, LineNamesTheStepAndTheEstimate) {
    EXPECT_EQ(progress_line(1, 12, "naive 1 thread stories15M", 0, std::nullopt), "[1/12] naive 1 thread stories15M");
    EXPECT_EQ(progress_line(3, 12, "tbb 2 threads stories110M", 70, 250),
              "[3/12] tbb 2 threads stories110M (1 min 10 s in, about 4 min 10 s left)");
}

TEST(Progress, EstimatesEachKindAtItsOwnMeasuredRate) {
    double now = 100;
    Progress p([&] { return now; });
    p.plan("slow", 2.0);
    p.plan("fast", 2.0);
    p.plan("slow", 4.0);
    p.plan("fast", 4.0);
    EXPECT_EQ(p.start("a", "slow", 2.0), "[1/4] a");  // nothing finished yet: no estimate
    now += 20;                                          // slow: 10 s a unit
    // fast has no rate yet: its 6 units at the run's 10 s a unit, plus slow's 4 units at 10 s.
    EXPECT_EQ(p.start("b", "fast", 2.0), "[2/4] b (20 s in, about 1 min 40 s left)");
    now += 2;                                           // fast: 1 s a unit
    EXPECT_EQ(p.start("c", "slow", 4.0), "[3/4] c (22 s in, about 44 s left)");
    now += 40;
    EXPECT_EQ(p.start("d", "fast", 4.0), "[4/4] d (1 min 02 s in, about 4.0 s left)");
    now += 4;
    EXPECT_EQ(p.summary(), "4 of 4 jobs in 1 min 06 s");
}

TEST(Progress, MoreWorkThanPlannedNeverGivesANegativeEstimate) {
    double now = 0;
    Progress p([&] { return now; });
    p.plan("k", 1.0);
    p.start("a", "k", 5.0);
    now += 5;
    p.start("b", "k", 1.0);
    EXPECT_DOUBLE_EQ(*p.left(), 0.0);
}

}  // namespace
}  // namespace wb
