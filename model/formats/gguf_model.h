// Llama models in GGUF (general.architecture "llama", as llama.cpp names tensors and keys): the reader that
// turns a parsed GgufFile into a Checkpoint, and the writer of a model llama.cpp can load.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "model/checkpoint.h"
#include "model/formats/gguf.h"
#include "model/formats/gguf_writer.h"
#include "model/formats/llama_layout.h"

namespace wb {

// Hyperparameters from llama.* (vocabulary size from token_embd.weight), rope_freqs.weight as the RoPE
// frequency factors, output.weight absent = classifier shared with the embedding; every tensor's shape
// checked against them. Matrices stay in their stored type; norms and the embedding become fp32. Throws
// LoadError for another architecture, a missing or misshapen tensor, or a type the workbench cannot read.
Checkpoint read_gguf(gguf::GgufFile file);

// The types a model is written in (--type): one row each, with llama.cpp's general.file_type.
struct GgufModelType {
    DType type;
    const char* name;  // "q8_0"
    std::uint32_t file_type;
    bool mixed = false;  // q4_k_m, q5_k_m: the classifier and some layers' V and down projections in Q6_K
};
const GgufModelType* find_gguf_model_type(std::string_view name);
std::string gguf_model_type_names();  // "f32, f16, bf16, q8_0, q4_0, ..."

// The type tensor t of a model of n_layers is written in when `type` is asked for: norms are F32; in a mixed
// K file the classifier (the embedding when it is shared) and the V and down projections of the layers
// llama-quantize gives more bits (the first and last eighth, every third between) are Q6_K; a matrix whose
// rows are not whole blocks of its type is Q8_0 when that type is a K-quant and the rows are whole Q8_0 blocks
// (llama-quantize writes Q5_0 or Q8_0 there), else F16 (as llama-quantize falls back).
DType gguf_tensor_type(const TensorSlot& t, const GgufModelType& type, int n_layers, bool shared_classifier);

// The tokenizer.* key-values a model file will carry, and how many tokens they hold.
struct GgufVocab {
    gguf::Metadata keys;
    std::size_t tokens = 0;
};
// tokenizer.ggml.* for a vocabulary.
GgufVocab vocab_metadata(const Vocab& v);
// Every tokenizer.* key-value of a GGUF file as it is (Llama 3's merges, chat template, ...); throws LoadError
// when it has no vocabulary.
GgufVocab tokenizer_metadata(const gguf::GgufFile& f);

struct GgufModelOptions {
    DType type = DType::f32;  // matrices and the token embedding
    bool mixed = false;       // GgufModelType::mixed
    std::string name;         // general.name
    GgufVocab vocab;
};

// A model of config c whose tensor rows come from `rows`, as GGUF. Throws LoadError naming `name` when the
// vocabulary does not match the config.
gguf::Writer gguf_model_writer(const Config& c, const GgufModelOptions& o, const std::string& name);
void write_gguf_model(const Config& c, const RowSource& rows, const GgufModelOptions& o, const ByteSink& out,
                      const std::string& name);

}  // namespace wb
