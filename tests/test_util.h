// Shared test helpers: the models directory, running the built programs, small files.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wb::test {

std::string models_dir();  // $WORKBENCH_MODELS or the configured default
std::string model_path(const std::string& file);
bool have_model(const std::string& file);
std::string bin(const std::string& program);  // path of a built program

struct Output {
    int exit_code;
    std::string out;
    std::string err;
};
// Runs a built program with arguments (no shell) and optional stdin text.
Output run(const std::string& program, const std::vector<std::string>& args, const std::string& stdin_text = "");

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
std::string temp_path(const std::string& name);  // a fresh path under the test's temp dir

// The reference story: the fenced block in the models directory's README.
std::string reference_story();

// max |a - b| over max |b|: how far one logits vector is from another, against the reference's scale.
double relative_error(const float* a, const float* b, int n);

}  // namespace wb::test

#define REQUIRE_MODEL(file)                                                                 \
    do {                                                                                    \
        if (!wb::test::have_model(file)) GTEST_SKIP() << "model file missing: " << wb::test::model_path(file); \
    } while (0)
