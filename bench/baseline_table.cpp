#include "bench/baseline_table.h"

#include <filesystem>

namespace wb::bench_all {

std::vector<Baseline> baselines(const std::string& bin_dir) {
    const std::string py = WORKBENCH_PYTHON;
    const std::filesystem::path bin(bin_dir), scripts = std::filesystem::path(WORKBENCH_SOURCE_DIR) / "bench/baselines/python";
    return {
        {"c-run", {bin / "baseline-run"}, "", "cc", BASELINE_FLAGS_RUN},
        {"c-runfast", {bin / "baseline-runfast"}, "", "cc", BASELINE_FLAGS_FAST},
        {"c-runomp", {bin / "baseline-runomp"}, "OMP_NUM_THREADS", "cc", BASELINE_FLAGS_FAST " -fopenmp"},
        {"numpy", {py, scripts / "llama2_numpy.py"}, "OPENBLAS_NUM_THREADS", py, "NumPy on the system BLAS"},
        {"python", {py, scripts / "llama2_pure.py"}, "", py, "pure CPython"},
    };
}

bool baseline_runs_at(const Baseline& b, const Config& c, int threads) {
    if (b.threads_env.empty() && threads != 1) return false;
    return b.name != "python" || c.matmul_params() <= kPythonMaxParams;
}

}  // namespace wb::bench_all
