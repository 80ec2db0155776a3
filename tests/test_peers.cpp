// Peers: parsers against captured outputs of the real programs (tests/fixtures/peers), truncated and garbage
// output, command lines of each kind, like-for-like pairing, the peer-argument grammar, measure_peer's records,
// the temporary model files, and the JSON reader the parsers stand on.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "harness/json.h"
#include "harness/peers.h"
#include "kernels/registry.h"
#include "model/memory_guard.h"
#include "model/synthetic.h"
#include "test_util.h"
#include "variants/variants.h"

namespace wb {
namespace {

std::string fixture_path(const std::string& name) { return std::string(WORKBENCH_PEER_FIXTURES_DIR) + "/" + name; }

// The fixtures are in the repository: a missing one is a failure, never a skip.
#define REQUIRE_FIXTURE(name) ASSERT_TRUE(std::filesystem::exists(fixture_path(name))) << "fixture missing: " << fixture_path(name)

std::string fixture(const std::string& name) { return test::read_file(fixture_path(name)); }

const PeerKind& kind(const char* name) {
    const PeerKind* k = find_peer_kind(name);
    if (!k) throw std::logic_error(std::string("no peer kind ") + name);
    return *k;
}

// An executable file (a shell script) under the test's temp dir.
std::string script(const std::string& name, const std::string& body) {
    const std::string path = test::temp_path(name);
    test::write_file(path, "#!/bin/sh\n" + body);
    chmod(path.c_str(), 0755);
    return path;
}

void expect_samples(const Summary& s, std::vector<double> samples) {
    EXPECT_EQ(s.samples, samples);
    std::sort(samples.begin(), samples.end());
    EXPECT_DOUBLE_EQ(s.median, samples[samples.size() / 2]);  // three samples: the middle one
    EXPECT_DOUBLE_EQ(s.min, samples.front());
    EXPECT_DOUBLE_EQ(s.max, samples.back());
}

// ---- parsers on the captured outputs ----

TEST(PeerParsers, MainlineJsonLines) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    const PeerOutput o = parse_llama_bench(fixture("llama-bench-mainline-c392e50.jsonl"), "", 0);
    ASSERT_EQ(o.error, "");
    expect_samples(o.prefill_tok_s, {964.095, 962.778, 980.168});
    expect_samples(o.decode_tok_s, {323.936, 324.459, 322.186});
    EXPECT_EQ(o.version, "");  // the build says "unknown": measure_peer falls back to the binary's sha256
    EXPECT_EQ(o.backend, "CPU");
}

TEST(PeerParsers, ForkJsonArray) {
    REQUIRE_FIXTURE("llama-bench-ik_llama-8337e4c.json");
    const PeerOutput o = parse_llama_bench(fixture("llama-bench-ik_llama-8337e4c.json"), "", 0);
    ASSERT_EQ(o.error, "");
    expect_samples(o.prefill_tok_s, {1537.12, 1556.84, 1598.99});
    expect_samples(o.decode_tok_s, {315.326, 332.32, 356.499});
    EXPECT_EQ(o.backend, "CPU");  // the fork names backends by flags, all false here
}

TEST(PeerParsers, CsvAndMarkdownCarryMeanAndSpread) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.csv");
    const PeerOutput csv = parse_llama_bench(fixture("llama-bench-mainline-c392e50.csv"), "", 0);
    ASSERT_EQ(csv.error, "");
    EXPECT_TRUE(csv.decode_tok_s.samples.empty());
    EXPECT_DOUBLE_EQ(csv.prefill_tok_s.median, 2343.747335);
    EXPECT_DOUBLE_EQ(csv.prefill_tok_s.stddev, 318.369485);
    EXPECT_DOUBLE_EQ(csv.decode_tok_s.median, 389.155450);
    EXPECT_DOUBLE_EQ(csv.decode_tok_s.stddev, 4.730306);
    EXPECT_EQ(csv.backend, "CPU");

    const PeerOutput md = parse_llama_bench(fixture("llama-bench-mainline-c392e50.md"), "", 0);
    ASSERT_EQ(md.error, "");
    EXPECT_DOUBLE_EQ(md.prefill_tok_s.median, 2368.74);
    EXPECT_DOUBLE_EQ(md.prefill_tok_s.stddev, 380.65);
    EXPECT_DOUBLE_EQ(md.decode_tok_s.median, 396.46);
    EXPECT_DOUBLE_EQ(md.decode_tok_s.stddev, 3.36);
    EXPECT_EQ(md.version, "");
}

TEST(PeerParsers, BuildCommitIsTheVersion) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    std::string out = fixture("llama-bench-mainline-c392e50.jsonl");
    for (std::size_t at; (at = out.find("\"unknown\"")) != std::string::npos;) out.replace(at, 9, "\"c392e50\"");
    EXPECT_EQ(parse_llama_bench(out, "", 0).version, "c392e50");
    std::string md = fixture("llama-bench-mainline-c392e50.md");
    md.replace(md.find("build: unknown"), 14, "build: 8337e4c");
    EXPECT_EQ(parse_llama_bench(md, "", 0).version, "8337e4c");
}

TEST(PeerParsers, IkGenerationAfterPromptIsDecodeAtThatDepth) {
    REQUIRE_FIXTURE("llama-bench-ik_llama-8337e4c-gp.json");
    const std::string out = fixture("llama-bench-ik_llama-8337e4c-gp.json");
    const PeerOutput o = parse_llama_bench(out, "", 0, 512);
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.decode_tok_s.samples, (std::vector<double>{37.4829, 38.1761}));
    EXPECT_DOUBLE_EQ(o.decode_tok_s.median, (37.4829 + 38.1761) / 2);  // two samples: their mean
    EXPECT_TRUE(std::isnan(o.prefill_tok_s.median));  // -gp times only the generated tokens
    EXPECT_NE(parse_llama_bench(out, "", 0, 0).error, "");  // tg16@pp512 is not a decode at depth 0
}

TEST(PeerParsers, MainlineDepthTestsAreReadAtTheirDepth) {
    // The captured lines as a llama-bench with -d writes them: each test carries n_depth.
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    const std::string lines = fixture("llama-bench-mainline-c392e50.jsonl");
    std::string deep = lines;
    for (std::size_t at = 0; (at = deep.find("\"n_prompt\"", at)) != std::string::npos; at += 30) deep.insert(at, "\"n_depth\": 4096, ");
    const PeerOutput o = parse_llama_bench(deep, "", 0, 4096);
    ASSERT_EQ(o.error, "");
    expect_samples(o.prefill_tok_s, {964.095, 962.778, 980.168});
    expect_samples(o.decode_tok_s, {323.936, 324.459, 322.186});
    EXPECT_NE(parse_llama_bench(deep, "", 0, 0).error, "");  // no test at depth 0
    EXPECT_NE(parse_llama_bench(lines, "", 0, 4096).error.find("at depth 4096"), std::string::npos);  // none at 4096
    EXPECT_NE(parse_llama2c("", "achieved tok/s: 100.0\n", 0, 4096).error, "");  // llama2.c has no depth
}

TEST(PeerParsers, Llama2cAchievedTokensPerSecond) {
    REQUIRE_FIXTURE("llama2c-run.stderr");
    for (const auto& [stem, rate] : {std::pair{"llama2c-run", 21000.0}, std::pair{"llama2c-runomp", 837.837838}}) {
        const PeerOutput o = parse_llama2c(fixture(std::string(stem) + ".stdout"), fixture(std::string(stem) + ".stderr"), 0);
        ASSERT_EQ(o.error, "") << stem;
        expect_samples(o.decode_tok_s, {rate});
        EXPECT_TRUE(o.prefill_tok_s.samples.empty());
        EXPECT_TRUE(std::isnan(o.prefill_tok_s.median));  // token by token: not a separate measurement
    }
}

TEST(PeerParsers, Llama2cMissingModelIsItsFirstErrorLine) {
    REQUIRE_FIXTURE("llama2c-missing-model.stderr");
    const PeerOutput o = parse_llama2c(fixture("llama2c-missing-model.stdout"), fixture("llama2c-missing-model.stderr"), 1);
    EXPECT_EQ(o.error, "Couldn't open file /nonexistent.bin");
}

TEST(PeerParsers, FailedLlamaBenchNamesItsErrorNotItsLog) {
    const std::string err =
        "load_backend: loaded CPU backend\n"
        "gguf_init_from_file: failed to open GGUF file '/tmp/x.gguf'\n"
        "main: error: failed to load model '/tmp/x.gguf'\n";
    EXPECT_EQ(parse_llama_bench("", err, 1).error, "gguf_init_from_file: failed to open GGUF file '/tmp/x.gguf'");
    EXPECT_EQ(first_error_line("", "", 139), "exit status 139, no output");
    EXPECT_EQ(first_error_line("usage: x\n", "\n  \n", 2), "usage: x");
}

TEST(PeerParsers, ANonZeroExitFailsEvenWithResults) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    EXPECT_NE(parse_llama_bench(fixture("llama-bench-mainline-c392e50.jsonl"), "Segmentation fault\n", 139).error, "");
    EXPECT_NE(parse_llama2c("", fixture("llama2c-run.stderr"), 1).error, "");
}

// Every prefix of every captured output parses to either a complete result or an error, never a crash; the
// prefixes that cut off the generation result are errors.
TEST(PeerParsers, TruncatedOutputIsAnErrorNeverACrash) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    for (const char* name : {"llama-bench-mainline-c392e50.jsonl", "llama-bench-ik_llama-8337e4c.json",
                             "llama-bench-mainline-c392e50.csv", "llama-bench-mainline-c392e50.md"}) {
        const std::string full = fixture(name);
        const PeerOutput whole = parse_llama_bench(full, "", 0);
        ASSERT_EQ(whole.error, "") << name;
        const std::size_t tg = full.rfind(full.find("tg16") != std::string::npos ? "tg16" : "n_gen");
        for (std::size_t cut = 0; cut < full.size(); cut++) {
            const PeerOutput o = parse_llama_bench(full.substr(0, cut), "", 0);
            if (o.error.empty()) {
                EXPECT_EQ(o.decode_tok_s.median, whole.decode_tok_s.median) << name << " cut at " << cut;
                EXPECT_EQ(o.prefill_tok_s.median, whole.prefill_tok_s.median) << name << " cut at " << cut;
            }
            if (cut <= tg) {
                EXPECT_NE(o.error, "") << name << " cut at " << cut << " still parsed";
            }
        }
    }
    const std::string err = fixture("llama2c-run.stderr");
    for (std::size_t cut = 0; cut < err.size(); cut++) {
        EXPECT_NE(parse_llama2c("", err.substr(0, cut), 0).error, "") << "cut at " << cut;  // the line ends with its newline
    }
}

TEST(PeerParsers, GarbageIsAnErrorNeverACrash) {
    std::mt19937 rng(7);
    for (int i = 0; i < 500; i++) {
        std::string junk(rng() % 400, '\0');
        for (char& c : junk) c = static_cast<char>(rng());
        if (i % 3 == 0) junk = "{\"n_prompt\": 0, \"n_gen\": 128, \"samples_ts\": [" + junk;
        if (i % 3 == 1) junk = "| test | t/s |\n| --- | --- |\n| tg128 | " + junk;
        EXPECT_NE(parse_llama_bench(junk, junk, 0).error, "");
        EXPECT_NE(parse_llama2c(junk, junk, 0).error, "");
    }
    for (const char* bad : {"[", "[{}]", "{\"n_prompt\":0,\"n_gen\":128,\"samples_ts\":[-1]}",
                            "{\"n_prompt\":0,\"n_gen\":128,\"avg_ts\":\"fast\"}", "build_commit,n_prompt\n\"x"}) {
        EXPECT_NE(parse_llama_bench(bad, "", 0).error, "") << bad;
    }
    EXPECT_NE(parse_llama2c("", "achieved tok/s: inf\n", 0).error, "");
    EXPECT_NE(parse_llama2c("", "achieved tok/s: -nan\n", 0).error, "");
    EXPECT_NE(parse_llama2c("", "achieved tok/s: 0.000000\n", 0).error, "");
}

// ---- command lines ----

TEST(PeerCommands, LlamaBenchTakesModelCountsRepetitionsThreadsAndOutput) {
    const Peer peer{&kind("llama.cpp"), "llama.cpp", "/opt/llama-bench"};
    const PeerJob job{"/tmp/m-q8_0.gguf", "/tok.bin", "Once upon a time", 64, 128, 5, 2, "jsonl"};
    const PeerCommand c = peer_command(peer, job);
    EXPECT_EQ(c.argv, (std::vector<std::string>{"/opt/llama-bench", "-m", "/tmp/m-q8_0.gguf", "-p", "64", "-n", "128",
                                                "-r", "5", "-t", "2", "-o", "jsonl"}));
    EXPECT_TRUE(c.env.empty());
}

TEST(PeerCommands, Llama2cTakesStepsPromptAndThreadsThroughOpenMp) {
    const Peer peer{&kind("llama2.c"), "llama2.c", "/opt/l2c/runomp"};
    const PeerJob job{"/tmp/m.bin", "/models/tokenizer.bin", "Once upon a time", 9, 128, 5, 2, ""};
    const PeerCommand c = peer_command(peer, job);
    EXPECT_EQ(c.argv, (std::vector<std::string>{"/opt/l2c/runomp", "/tmp/m.bin", "-z", "/models/tokenizer.bin", "-t",
                                                "0", "-n", "136", "-i", "Once upon a time"}));
    EXPECT_EQ(c.env, std::vector<std::string>{"OMP_NUM_THREADS=2"});
}

TEST(PeerCommands, OutputFormatIsTheFirstTheBinaryOffers) {
    const PeerKind& lc = kind("llama.cpp");
    EXPECT_EQ(choose_output(lc, "  -o, --output <csv|json|jsonl|md|sql>      (default: md)\n"), "jsonl");
    EXPECT_EQ(choose_output(lc, "  -o, --output <csv|json|md|sql>      (default: md)\n"), "json");
    EXPECT_EQ(choose_output(lc, ""), "json");  // no help text: the most widely supported
    EXPECT_EQ(choose_output(kind("llama2.c"), "anything"), "");
}

TEST(PeerCommands, DepthFormIsTheOneTheBinaryOffers) {
    const PeerKind& lc = kind("llama.cpp");
    const DepthForm* mainline = choose_depth_form(lc, "  -d, --n-depth <n>                       (default: 0)\n  -pg <pp,tg>\n");
    ASSERT_NE(mainline, nullptr);
    EXPECT_TRUE(mainline->measures_prefill);
    const DepthForm* gp = choose_depth_form(lc, "  -pg <pp,tg>                         (default: )\n  -gp <pp,tg>                         (default: )\n");
    ASSERT_NE(gp, nullptr);
    EXPECT_FALSE(gp->measures_prefill);
    EXPECT_EQ(choose_depth_form(lc, "  -pg <pp,tg>\n  --gpu-layers <n>\n"), nullptr);  // neither: it measures no depth
    EXPECT_EQ(choose_depth_form(kind("llama2.c"), "-gp -d --n-depth"), nullptr);
}

TEST(PeerCommands, DepthJobsTypeTheCacheAndTurnOnFlashAttention) {
    const PeerKind& lc = kind("llama.cpp");
    const Peer peer{&lc, "ik_llama.cpp", "/opt/ik/llama-bench"};
    PeerJob job{"/tmp/m.gguf", "", "", 0, 64, 2, 2, "json"};
    job.depth_form = choose_depth_form(lc, "-gp <pp,tg>");
    job.depth = 4096;
    job.kv_type = "q8_0";
    EXPECT_EQ(peer_command(peer, job).argv,
              (std::vector<std::string>{"/opt/ik/llama-bench", "-m", "/tmp/m.gguf", "-p", "0", "-n", "0", "-gp", "4096,64",
                                        "-fa", "1", "-rtr", "1", "-ctk", "q8_0", "-ctv", "q8_0", "-r", "2", "-t", "2", "-o",
                                        "json"}));
    job.depth_form = choose_depth_form(lc, "-d, --n-depth <n>");
    job.prompt_tokens = 512;
    job.kv_type = "f16";
    job.output = "jsonl";
    EXPECT_EQ(peer_command(peer, job).argv,
              (std::vector<std::string>{"/opt/ik/llama-bench", "-m", "/tmp/m.gguf", "-p", "512", "-n", "64", "-d", "4096",
                                        "-fa", "1", "-ctk", "f16", "-ctv", "f16", "-r", "2", "-t", "2", "-o", "jsonl"}));
}

TEST(PeerCommands, VariantNamesCarryKindBinaryAndType) {
    EXPECT_EQ(peer_variant({&kind("llama.cpp"), "llama.cpp", "/x/llama-bench"}, DType::q8_0), "llama.cpp Q8_0");
    EXPECT_EQ(peer_variant({&kind("llama.cpp"), "ik_llama.cpp", "/x/llama-bench"}, DType::q4_0), "ik_llama.cpp Q4_0");
    EXPECT_EQ(peer_variant({&kind("llama2.c"), "llama2.c", "/x/runomp"}, DType::f32), "llama2.c runomp F32");
}

// ---- --peer arguments ----

TEST(PeerArguments, KindPathNameAndSeveralBinaries) {
    const std::string bench = script("llama-bench", "exit 0\n"), run = script("run", "exit 0\n"),
                      runomp = script("runomp", "exit 0\n");
    const std::vector<Peer> one = parse_peer_argument("llama.cpp=" + bench);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_STREQ(one[0].kind->name, "llama.cpp");
    EXPECT_EQ(one[0].name, "llama.cpp");
    EXPECT_EQ(one[0].binary, bench);
    EXPECT_EQ(parse_peer_argument("llama.cpp:ik_llama.cpp=" + bench)[0].name, "ik_llama.cpp");
    const std::vector<Peer> two = parse_peer_argument("llama2.c=" + run + "," + runomp);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].binary, run);
    EXPECT_EQ(two[1].binary, runomp);
    EXPECT_NE(two[0].label(), two[1].label());
}

TEST(PeerArguments, BadOnesAreOneLineErrors) {
    const std::string bench = script("llama-bench", "exit 0\n");
    const std::string plain = test::temp_path("not-executable");
    test::write_file(plain, "data");
    const std::pair<std::string, const char*> cases[] = {
        {"vllm=" + bench, "unknown kind 'vllm'"},
        {"llama.cpp", "expects KIND=PATH"},
        {"llama.cpp=", "PATH is missing"},
        {"llama.cpp=/nonexistent/llama-bench", "no such executable file"},
        {"llama.cpp=" + plain, "no such executable file"},
        {"llama2.c=" + bench + ",", "empty item"},
        {"llama.cpp:=" + bench, "empty NAME"},
    };
    for (const auto& [arg, phrase] : cases) {
        try {
            parse_peer_argument(arg);
            ADD_FAILURE() << arg << " was accepted";
        } catch (const std::invalid_argument& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(phrase), std::string::npos) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
}

TEST(PeerArguments, OnlyOpenMpBuildsOfLlama2cRunOnSeveralThreads) {
    const Peer omp{&kind("llama2.c"), "llama2.c", script("runomp", "# calls GOMP_parallel\n")};
    const Peer plain{&kind("llama2.c"), "llama2.c", script("run", "exit 0\n")};
    const Peer bench{&kind("llama.cpp"), "llama.cpp", script("llama-bench", "exit 0\n")};
    EXPECT_TRUE(runs_threads(omp, 2));
    EXPECT_TRUE(runs_threads(plain, 1));
    EXPECT_FALSE(runs_threads(plain, 2));
    EXPECT_TRUE(runs_threads(bench, 2));
}

// ---- like for like ----

TEST(PeerPairing, EachPeerGetsTheRunsTypesItTakes) {
    const std::vector<DType> all = {DType::f32, DType::bf16, DType::q8_0, DType::q4_0};
    EXPECT_EQ(paired_types(kind("llama.cpp"), all), (std::vector<DType>{DType::f32, DType::q8_0, DType::q4_0}));
    EXPECT_EQ(paired_types(kind("llama2.c"), all), std::vector<DType>{DType::f32});
    EXPECT_EQ(paired_types(kind("llama.cpp"), {DType::q4_0, DType::bf16}), std::vector<DType>{DType::q4_0});
    EXPECT_TRUE(paired_types(kind("llama2.c"), {DType::q8_0}).empty());
    EXPECT_TRUE(paired_types(kind("llama.cpp"), {DType::bf16}).empty());
}

// ---- measure_peer ----

ProcessResult captured(const std::string& out, const std::string& err, int code = 0) { return {code, out, err, 12.5}; }

TEST(MeasurePeer, LlamaBenchIsCalledOnceAndItsSamplesKept) {
    REQUIRE_FIXTURE("llama-bench-mainline-c392e50.jsonl");
    const std::string bench = script("llama-bench", "exit 0\n");
    const Peer peer{&kind("llama.cpp"), "llama.cpp", bench};
    const PeerJob job{"/tmp/m.gguf", "", "", 64, 128, 3, 2, "jsonl"};
    int calls = 0;
    Record r;
    measure_peer(peer, DType::q4_0, job, [&](const std::vector<std::string>& argv, const std::vector<std::string>&) {
        calls++;
        EXPECT_EQ(argv, peer_command(peer, job).argv);
        return captured(fixture("llama-bench-mainline-c392e50.jsonl"), "log lines\n");
    }, r);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(r.status, "ok");
    EXPECT_EQ(r.impl, "peer");
    EXPECT_EQ(r.variant, "llama.cpp Q4_0");
    EXPECT_EQ(r.weight_type, "Q4_0");
    EXPECT_EQ(r.threads, 2);
    EXPECT_EQ(r.prompt_tokens, 64);
    EXPECT_EQ(r.gen_tokens, 128);
    EXPECT_EQ(r.decode_tok_s.samples.size(), 3u);
    EXPECT_EQ(r.prefill_tok_s.samples.size(), 3u);
    EXPECT_TRUE(std::isnan(r.ttft_ms.median));
    ASSERT_TRUE(r.peer);
    EXPECT_EQ(r.peer->version, file_sha256(bench));  // it printed "unknown"
    EXPECT_EQ(r.peer->version.rfind("sha256:", 0), 0u);
    EXPECT_EQ(r.peer->version.size(), 7u + 64u);
    EXPECT_EQ(r.peer->backend, "CPU");
    EXPECT_EQ(r.peak_rss_mb, 12.5);
}

TEST(MeasurePeer, Llama2cRunsAWarmUpThenEachRepetition) {
    const Peer peer{&kind("llama2.c"), "llama2.c", script("run", "exit 0\n")};
    const PeerJob job{"/tmp/m.bin", "/tok.bin", "Hello", 5, 20, 4, 1, ""};
    int calls = 0;
    Record r;
    measure_peer(peer, DType::f32, job, [&](const std::vector<std::string>&, const std::vector<std::string>& env) {
        EXPECT_EQ(env, std::vector<std::string>{"OMP_NUM_THREADS=1"});
        return captured("story\n", "achieved tok/s: " + std::to_string(100 + 10 * calls++) + "\n");
    }, r);
    EXPECT_EQ(calls, 5);
    EXPECT_EQ(r.status, "ok");
    EXPECT_EQ(r.decode_tok_s.samples, (std::vector<double>{110, 120, 130, 140}));  // the warm-up's 100 dropped
    EXPECT_DOUBLE_EQ(r.decode_tok_s.median, 125);
    EXPECT_TRUE(std::isnan(r.prefill_tok_s.median));
    EXPECT_EQ(r.variant, "llama2.c " + std::filesystem::path(peer.binary).filename().string() + " F32");
}

TEST(MeasurePeer, FailuresBecomeFailedRecordsWithTheirFirstErrorLine) {
    REQUIRE_FIXTURE("llama2c-missing-model.stderr");
    const Peer peer{&kind("llama2.c"), "llama2.c", "/nonexistent/run"};
    const PeerJob job{"/nonexistent.bin", "/tok.bin", "Hello", 5, 20, 3, 1, ""};
    Record r;
    measure_peer(peer, DType::f32, job, [&](const auto&, const auto&) {
        return captured(fixture("llama2c-missing-model.stdout"), fixture("llama2c-missing-model.stderr"), 1);
    }, r);
    EXPECT_EQ(r.status, "failed");
    EXPECT_EQ(r.error, "Couldn't open file /nonexistent.bin");
    EXPECT_EQ(r.peer->version, "unknown");  // no binary to hash

    Record thrown;
    measure_peer(peer, DType::f32, job, [](const auto&, const auto&) -> ProcessResult {
        throw std::runtime_error("cannot start /nonexistent/run: No such file or directory");
    }, thrown);
    EXPECT_EQ(thrown.status, "failed");
    EXPECT_EQ(thrown.error, "cannot start /nonexistent/run: No such file or directory");

    Record truncated;
    measure_peer({&kind("llama.cpp"), "llama.cpp", "/x"}, DType::f32, job, [](const auto&, const auto&) {
        return captured("{\"n_prompt\": 64, \"n_gen\": 0, \"samples_ts\": [9", "");
    }, truncated);
    EXPECT_EQ(truncated.status, "failed");
    EXPECT_NE(truncated.error.value_or("").find("no readable generation"), std::string::npos);

    Record unwritable;
    fail_peer(peer, DType::f32, job, "no room on /tmp", unwritable);
    EXPECT_EQ(unwritable.status, "failed");
    EXPECT_EQ(unwritable.error, "no room on /tmp");
    EXPECT_EQ(unwritable.variant, "llama2.c run F32");
}

TEST(MeasurePeer, AnInterruptionPassesThrough) {
    struct Interrupted {};
    const Peer peer{&kind("llama2.c"), "llama2.c", "/x/run"};
    Record r;
    EXPECT_THROW(measure_peer(peer, DType::f32, PeerJob{}, [](const auto&, const auto&) -> ProcessResult { throw Interrupted{}; }, r),
                 Interrupted);
}

// ---- records ----

TEST(PeerRecords, JsonAndCsvCarryThePeerAndLeaveUnmeasuredRatesEmpty) {
    Record r;
    r.impl = "peer";
    r.variant = "llama.cpp Q8_0";
    r.weight_type = "Q8_0";
    r.peer = PeerInfo{"llama.cpp", "llama.cpp", "/x/llama-bench", "c392e50", "CPU"};
    r.prefill_tok_s = not_measured();
    r.decode_tok_s = summarize({1, 2, 3});
    r.ttft_ms = not_measured();
    r.status = "failed";
    r.error = "main: error: failed to load model '/a,b.gguf' \"quoted\"";
    const std::optional<JsonValue> j = parse_json(to_json(r));
    ASSERT_TRUE(j);
    EXPECT_EQ(j->find("weight_type")->string, "Q8_0");
    EXPECT_EQ(j->find("peer")->find("version")->string, "c392e50");
    EXPECT_EQ(j->find("peer")->find("kind")->string, "llama.cpp");
    EXPECT_EQ(j->find("prefill_tok_s")->find("median")->type, JsonValue::Type::null);
    EXPECT_EQ(j->find("decode_tok_s")->find("median")->number, 2);
    EXPECT_EQ(j->find("error")->string, *r.error);
    const std::string csv = to_csv(r);
    EXPECT_NE(csv.find(",Q8_0,c392e50,\"main: error: failed to load model '/a,b.gguf' \"\"quoted\"\"\""), std::string::npos) << csv;
    EXPECT_NE(csv.find(",,,2,"), std::string::npos) << csv;  // empty prefill median and spread, then decode's
    auto fields = [](const std::string& line) {  // commas outside quotes, plus one
        int n = 1;
        bool quoted = false;
        for (const char ch : line) {
            if (ch == '"') quoted = !quoted;
            n += ch == ',' && !quoted;
        }
        return n;
    };
    EXPECT_EQ(fields(csv), fields(csv_header()));
}

// A results CSV begun before the last columns existed: appending brings its header up to date and gives its
// records empty cells for the new columns, so every record has the header's fields (a quoted comma or line break
// inside a field is not a field break).
TEST(PeerRecords, AppendingToAnOlderCsvUpdatesItsHeaderAndPadsItsRows) {
    const std::string header = csv_header();
    const std::string older = header.substr(0, header.rfind(",kv_type,depth"));
    ASSERT_NE(older, header);
    const int columns = static_cast<int>(std::count(header.begin(), header.end(), ',')) + 1;
    const int older_columns = static_cast<int>(std::count(older.begin(), older.end(), ',')) + 1;
    std::string old_row = "2026-01-01T00:00:00Z,abc,peer,\"a, b\"";
    for (int i = 4; i < older_columns - 1; i++) old_row += ",x";
    old_row += ",\"line one\nline two\"";
    const std::string dir = test::temp_path("records");
    std::filesystem::create_directories(dir);
    test::write_file(dir + "/run.csv", older + "\n" + old_row + "\n");
    Record r;
    r.impl = "workbench";
    r.variant = "tbb";
    r.status = "ok";
    append_record(r, dir, "run");
    const std::string csv = test::read_file(dir + "/run.csv");
    ASSERT_EQ(csv.substr(0, csv.find('\n')), header);
    std::vector<int> fields{1};
    bool quoted = false;
    for (const char ch : csv.substr(header.size() + 1)) {
        if (ch == '"') quoted = !quoted;
        if (ch == '\n' && !quoted) fields.push_back(1);
        fields.back() += ch == ',' && !quoted;
    }
    fields.pop_back();  // after the last record's line break
    EXPECT_EQ(fields, std::vector<int>(2, columns));
    EXPECT_NE(csv.find(old_row + ",,\n"), std::string::npos) << csv;  // the old record kept, two empty cells added
    // A file already in today's form is left as it is.
    append_record(r, dir, "run");
    EXPECT_EQ(test::read_file(dir + "/run.csv").rfind(csv, 0), 0u);
}

// ---- model files ----

TEST(PeerModelFiles, WrittenOnceIntoATemporaryDirectoryAndRemoved) {
    std::vector<std::string> written;
    std::string dir;
    const std::string existing = test::temp_path("given.bin");
    test::write_file(existing, "v0");
    {
        PeerModels files("stories260K", {[](PeerFormat, DType) { return 1024; },
                                         [&](PeerFormat, DType type, const std::string& path) {
                                             written.push_back(path);
                                             test::write_file(path, traits(type).name);
                                         }});
        files.provide(PeerFormat::llama2c_v0, DType::f32, existing);
        EXPECT_EQ(files.file(PeerFormat::llama2c_v0, DType::f32), existing);
        const std::string q8 = files.file(PeerFormat::gguf, DType::q8_0);
        EXPECT_EQ(files.file(PeerFormat::gguf, DType::q8_0), q8);
        EXPECT_NE(files.file(PeerFormat::gguf, DType::f32), q8);
        EXPECT_EQ(written.size(), 2u);
        EXPECT_EQ(test::read_file(q8), "Q8_0");
        EXPECT_EQ(std::filesystem::path(q8).extension(), ".gguf");
        dir = std::filesystem::path(q8).parent_path().string();
    }
    EXPECT_FALSE(std::filesystem::exists(dir));
    EXPECT_TRUE(std::filesystem::exists(existing));
}

TEST(PeerModelFiles, AFailedWriteIsRememberedAndItsFileRemoved) {
    int calls = 0;
    std::string partial;
    PeerModels files("s", {[](PeerFormat, DType) { return 1024; }, [&](PeerFormat, DType, const std::string& path) {
                               calls++;
                               partial = path;
                               test::write_file(path, "half");
                               throw std::runtime_error("disk on fire");
                           }});
    for (int i = 0; i < 2; i++) {
        try {
            files.file(PeerFormat::gguf, DType::q4_0);
            ADD_FAILURE() << "no error";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("GGUF Q4_0 model for the peers: disk on fire"), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(std::filesystem::exists(partial));
}

TEST(PeerModelFiles, TheDiskGuardRefusesFilesLargerThanTheFreeSpace) {
    bool called = false;
    PeerModels files("huge", {[](PeerFormat, DType) { return std::uint64_t{1} << 62; },
                              [&](PeerFormat, DType, const std::string&) { called = true; }});
    try {
        files.file(PeerFormat::gguf, DType::f32);
        ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("GGUF F32 model for the peers"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(called);
}

// The files peers get hold the run's model: read back, each has its config and weights (in the asked type).
TEST(PeerModelFiles, TheWriterHandsPeersTheSameModel) {
    REQUIRE_MODEL("tok512.bin");
    const Config c = *find_shape("stories260K");
    const Checkpoint ck = synthetic_checkpoint(c, 1, "stories260K");
    const PeerModelWriter w = peer_model_writer(ck, test::model_path("tok512.bin"));
    const WeightView& wq = ck.weights().layers[2].wq;
    for (const auto& [format, type] : {std::pair{PeerFormat::gguf, DType::f32}, std::pair{PeerFormat::gguf, DType::q8_0},
                                       std::pair{PeerFormat::gguf, DType::q4_0}, std::pair{PeerFormat::llama2c_v0, DType::f32}}) {
        const std::string path = test::temp_path(std::string(traits(type).name) + (format == PeerFormat::gguf ? ".gguf" : ".bin"));
        w.write(format, type, path);
        EXPECT_EQ(std::filesystem::file_size(path), w.bytes(format, type)) << path;
        const Checkpoint back = Checkpoint::open(path);
        EXPECT_EQ(back.config().summary(), c.summary()) << path;
        EXPECT_EQ(back.format(), format == PeerFormat::gguf ? Format::gguf : Format::llama2c);
        const WeightView& bq = back.weights().layers[2].wq;
        ASSERT_EQ(bq.dtype, type) << path;
        // Row 5 of layer 2's wq, dequantised, is the original row within the type's rounding.
        std::vector<float> mine(wq.n), theirs(bq.n);
        traits(wq.dtype).dequantize_rows(wq, 5, 1, mine.data());
        traits(bq.dtype).dequantize_rows(bq, 5, 1, theirs.data());
        float scale = 0;
        for (const float v : mine) scale = std::max(scale, std::abs(v));
        for (int i = 0; i < wq.n; i++) {
            EXPECT_NEAR(theirs[i], mine[i], type == DType::f32 ? 0.0f : scale / (type == DType::q8_0 ? 100 : 6)) << path << " " << i;
        }
        if (format == PeerFormat::gguf) {
            ASSERT_NE(back.vocab(), nullptr);
            EXPECT_EQ(static_cast<int>(back.vocab()->tokens.size()), c.vocab_size);
        }
    }
}

// ---- the JSON reader ----

TEST(JsonReader, ValuesEscapesAndNesting) {
    const std::optional<JsonValue> v = parse_json(
        " {\"a\": [1, -2.5e3, true, false, null], \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"o\": {}} ");
    ASSERT_TRUE(v);
    const JsonValue* a = v->find("a");
    ASSERT_TRUE(a);
    ASSERT_EQ(a->array.size(), 5u);
    EXPECT_EQ(a->array[0].number, 1);
    EXPECT_EQ(a->array[1].number, -2500);
    EXPECT_TRUE(a->array[2].boolean);
    EXPECT_EQ(a->array[3].type, JsonValue::Type::boolean);
    EXPECT_FALSE(a->array[3].boolean);
    EXPECT_EQ(a->array[4].type, JsonValue::Type::null);
    EXPECT_EQ(v->find("s")->string, "q\"\\/\b\f\n\r\t\xC3\xA9\xF0\x9F\x98\x80");
    EXPECT_EQ(v->find("o")->type, JsonValue::Type::object);
    EXPECT_EQ(v->find("missing"), nullptr);
    EXPECT_EQ(a->find("a"), nullptr);  // not an object
}

TEST(JsonReader, RejectsWhatIsNotJson) {
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", ".5", "tru", "nul", "\"\\x\"",
                            "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "[1] [2]", "{1: 2}", "'s'", "NaN", "1e"}) {
        EXPECT_FALSE(parse_json(bad)) << bad;
    }
    EXPECT_FALSE(parse_json(std::string(100000, '[')));  // too deep: refused, not a stack overflow
    EXPECT_TRUE(parse_json(std::string(60, '[') + std::string(60, ']')));
}

}  // namespace
}  // namespace wb
