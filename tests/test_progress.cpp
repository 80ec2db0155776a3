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

TEST(Progress, TimeLeftScalesTheElapsedTimeByTheWorkLeft) {
    EXPECT_FALSE(time_left(0, 10, 5));
    EXPECT_FALSE(time_left(2, 10, 0));
    EXPECT_DOUBLE_EQ(*time_left(2, 10, 30), 120.0);  // 15 s per unit, 8 units left
    EXPECT_DOUBLE_EQ(*time_left(10, 10, 30), 0.0);
    EXPECT_DOUBLE_EQ(*time_left(12, 10, 30), 0.0);  // more done than planned: nothing left, never negative
}

TEST(Progress, LineNamesTheStepAndTheEstimate) {
    EXPECT_EQ(progress_line(1, 12, "naive 1 thread stories15M", 0, std::nullopt), "[1/12] naive 1 thread stories15M");
    EXPECT_EQ(progress_line(3, 12, "tbb 2 threads stories110M", 70, 250),
              "[3/12] tbb 2 threads stories110M (1 min 10 s in, about 4 min 10 s left)");
}

TEST(Progress, EstimatesFromTheJobsFinishedSoFar) {
    double now = 100;
    Progress p(3, 10.0, [&] { return now; });
    EXPECT_EQ(p.start("a", 2.0), "[1/3] a");  // nothing finished yet: no estimate
    now += 20;                                 // job a (2 units) took 20 s
    EXPECT_EQ(p.start("b", 3.0), "[2/3] b (20 s in, about 1 min 20 s left)");
    now += 30;                                 // b (3 units) took 30 s: still 10 s a unit, 5 units left
    EXPECT_EQ(p.start("c", 5.0), "[3/3] c (50 s in, about 50 s left)");
    now += 40;
    EXPECT_EQ(p.summary(), "3 of 3 jobs in 1 min 30 s");
}

}  // namespace
}  // namespace wb
