// tokenize: the token ids a model's tokenizer gives a text (and, with --pieces, what each id stands for).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "cli/args.h"
#include "model/checkpoint.h"
#include "model/tokenizers/tokenizer.h"

namespace {

using namespace wb;

void print_help() {
    std::printf(
        "usage: tokenize MODEL_OR_TOKENIZER (TEXT | --file F | --file -) [--no-bos] [--pieces]\n"
        "Prints the token ids of a text on one line, space-separated.\n\n"
        "  MODEL_OR_TOKENIZER  a GGUF file (a model or a vocabulary only) or a llama2.c tokenizer.bin\n"
        "  TEXT          the text, as one argument (after --, it may start with '-')\n"
        "  --file F      the text is F's bytes, exactly (newlines, tabs, an empty file); '-' reads standard input\n"
        "  --no-bos      no BOS first (default: BOS when the vocabulary adds one)\n"
        "  --pieces      then one line per id: the id, a tab, and its piece in double quotes with C escapes\n"
        "                (\\n \\t \\r \\\\ \\\" and \\xHH for bytes that are neither printable ASCII nor part of a\n"
        "                whole UTF-8 character); control tokens are shown by their name, unquoted\n"
        "  --help        this text\n"
        "Exit status: 0 ok, 1 unreadable or foreign file, 2 bad arguments.\n");
}

std::string read_text(const std::string& file) {
    if (file == "-") {
        std::string text;
        char buf[65536];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, stdin)) > 0;) text.append(buf, n);
        if (std::ferror(stdin)) throw std::runtime_error("cannot read standard input");
        return text;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error(file + ": cannot open text file");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error(file + ": cannot read text file");
    return text;
}

std::string quoted(const std::string& bytes) {
    std::string out = "\"";
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        const std::size_t len = utf8_length(bytes, i);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\\' || c == '"') out += {'\\', static_cast<char>(c)};
        else if ((c >= 0x20 && c < 0x7F) || len > 1) out.append(bytes, i, len);
        else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02X", c);
            out += hex;
        }
        i += std::max<std::size_t>(len, 1);
    }
    return out + "\"";
}

bool opens_as_checkpoint(const std::string& path) {
    try {
        Checkpoint::open(path);
        return true;
    } catch (const LoadError&) {
        return false;
    }
}

// The tokenizer a file holds; a llama2.c checkpoint, which holds none, is named as such.
std::unique_ptr<Tokenizer> tokenizer_of(const std::string& path) {
    try {
        return open_tokenizer(path);
    } catch (const LoadError&) {
        if (!opens_as_checkpoint(path)) throw;
        throw LoadError(path + ": a llama2.c checkpoint carries no vocabulary; give its tokenizer.bin");
    }
}

int tokenize_main(int argc, char** argv) {
    std::optional<std::string> model, text, file;
    bool bos = true, pieces = false, options_done = false;
    cli::Args args(argc, argv);
    while (args.next()) {
        const std::string_view a = args.current();
        if (!options_done && (a == "--help" || a == "-h")) {
            print_help();
            return 0;
        } else if (!options_done && a == "--file") {
            if (file) throw cli::UsageError("--file given twice");
            file = std::string(args.value());
        } else if (!options_done && a == "--no-bos") {
            bos = false;
        } else if (!options_done && a == "--pieces") {
            pieces = true;
        } else if (!options_done && a == "--") {
            options_done = true;
        } else if (!options_done && a.size() > 1 && a[0] == '-') {
            throw cli::UsageError("unknown option '" + std::string(a) + "'");
        } else if (!model) {
            model = std::string(a);
        } else if (!text) {
            text = std::string(a);
        } else {
            throw cli::UsageError("unexpected argument '" + std::string(a) + "' (a TEXT with spaces needs quotes)");
        }
    }
    if (!model) throw cli::UsageError("give a MODEL_OR_TOKENIZER and a TEXT or --file");
    if (text.has_value() == file.has_value()) throw cli::UsageError("give one TEXT or --file F, not both or neither");

    const std::unique_ptr<Tokenizer> tok = tokenizer_of(*model);
    const std::vector<int> ids = tok->encode(file ? read_text(*file) : *text, bos && tok->add_bos());
    std::string line;
    for (const int id : ids) {
        if (!line.empty()) line += ' ';
        line += std::to_string(id);
    }
    std::printf("%s\n", line.c_str());
    if (pieces) {
        for (const int id : ids) {
            const std::string& b = tok->token_bytes(id);
            std::printf("%d\t%s\n", id, tok->is_control(id) ? b.c_str() : quoted(b).c_str());
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) { return wb::cli::run_main("tokenize", tokenize_main, argc, argv); }
