#include "test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

extern char** environ;

namespace wb::test {

std::string models_dir() {
    const char* env = std::getenv("WORKBENCH_MODELS");
    return env != nullptr && *env != '\0' ? env : WORKBENCH_MODELS_DIR;
}

std::string model_path(const std::string& file) { return models_dir() + "/" + file; }

bool have_model(const std::string& file) { return std::filesystem::exists(model_path(file)); }

std::string bin(const std::string& program) { return std::string(WORKBENCH_BIN_DIR) + "/" + program; }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string temp_path(const std::string& name) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("wb-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return (dir / (std::string(info->test_suite_name()) + "." + info->name() + "." + name)).string();
}

Output run(const std::string& program, const std::vector<std::string>& args, const std::string& stdin_text) {
    const std::string out_path = temp_path("stdout"), err_path = temp_path("stderr"), in_path = temp_path("stdin");
    write_file(in_path, stdin_text);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string path = bin(program);
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid;
    const int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start " + path);
    int status = 0;
    waitpid(pid, &status, 0);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return {code, read_file(out_path), read_file(err_path)};
}

std::string reference_story() {
    const std::string readme = read_file(model_path("README.md"));
    const std::size_t open = readme.find("```\n");
    const std::size_t close = readme.find("\n```", open + 4);
    if (open == std::string::npos || close == std::string::npos) throw std::runtime_error("no story in the README");
    return readme.substr(open + 4, close - open - 4);
}

double relative_error(const float* a, const float* b, int n) {
    double diff = 0, scale = 0;
    for (int i = 0; i < n; i++) {
        diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
    }
    return diff / scale;
}

}  // namespace wb::test
