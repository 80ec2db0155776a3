#include "harness/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace wb {

std::string json_escape(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ",";
        first_.back() = false;
    }
}

JsonWriter& JsonWriter::begin_object() {
    separate();
    out_ += "{";
    first_.push_back(true);
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_ += "}";
    first_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view k) {
    if (!k.empty()) key(k);
    separate();
    out_ += "[";
    first_.push_back(true);
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_ += "]";
    first_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
    separate();
    out_ += json_escape(k) + ":";
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
    separate();
    out_ += json_escape(s);
    return *this;
}

JsonWriter& JsonWriter::value(double v) {
    separate();
    if (!std::isfinite(v)) {
        out_ += "null";
        return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
}

JsonWriter& JsonWriter::value(long long v) {
    separate();
    out_ += std::to_string(v);
    return *this;
}

JsonWriter& JsonWriter::value(bool v) {
    separate();
    out_ += v ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    out_ += "null";
    return *this;
}

}  // namespace wb

namespace wb {

const JsonValue* JsonValue::find(std::string_view key) const {
    if (type != Type::object) return nullptr;
    for (const auto& [k, v] : object) {
        if (k == key) return &v;
    }
    return nullptr;
}

namespace {

// Recursive descent over RFC 8259; any deviation makes the whole text invalid.
class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}

    std::optional<JsonValue> document() {
        JsonValue v;
        if (!value(v, 0)) return std::nullopt;
        space();
        if (at_ != s_.size()) return std::nullopt;
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;

    void space() {
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) at_++;
    }
    bool take(char c) {
        space();
        if (at_ < s_.size() && s_[at_] == c) {
            at_++;
            return true;
        }
        return false;
    }
    bool word(std::string_view w) {
        if (s_.substr(at_, w.size()) != w) return false;
        at_ += w.size();
        return true;
    }

    bool value(JsonValue& v, int depth) {
        if (depth > kMaxDepth) return false;
        space();
        if (at_ >= s_.size()) return false;
        const char c = s_[at_];
        if (c == '{') return object(v, depth);
        if (c == '[') return array(v, depth);
        if (c == '"') {
            v.type = JsonValue::Type::string;
            return string(v.string);
        }
        if (word("true") || word("false")) {
            v.type = JsonValue::Type::boolean;
            v.boolean = c == 't';
            return true;
        }
        if (word("null")) return true;
        return number(v);
    }

    bool object(JsonValue& v, int depth) {
        at_++;
        v.type = JsonValue::Type::object;
        if (take('}')) return true;
        do {
            std::string key;
            JsonValue member;
            space();
            if (at_ >= s_.size() || s_[at_] != '"' || !string(key) || !take(':') || !value(member, depth + 1)) return false;
            v.object.emplace_back(std::move(key), std::move(member));
        } while (take(','));
        return take('}');
    }

    bool array(JsonValue& v, int depth) {
        at_++;
        v.type = JsonValue::Type::array;
        if (take(']')) return true;
        do {
            JsonValue element;
            if (!value(element, depth + 1)) return false;
            v.array.push_back(std::move(element));
        } while (take(','));
        return take(']');
    }

    bool hex4(unsigned& out) {
        if (at_ + 4 > s_.size()) return false;
        out = 0;
        for (int i = 0; i < 4; i++) {
            const char h = s_[at_++];
            const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (d < 0) return false;
            out = out * 16 + static_cast<unsigned>(d);
        }
        return true;
    }

    static void utf8(unsigned cp, std::string& out) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool string(std::string& out) {
        at_++;  // the opening quote
        while (at_ < s_.size()) {
            const char c = s_[at_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= s_.size()) return false;
            const char e = s_[at_++];
            static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
            if (const std::size_t i = kFrom.find(e); i != std::string_view::npos) {
                out += kTo[i];
                continue;
            }
            unsigned cp = 0;
            if (e != 'u' || !hex4(cp)) return false;
            if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
                unsigned low = 0;
                if (!word("\\u") || !hex4(low) || low < 0xDC00 || low >= 0xE000) return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                return false;
            }
            utf8(cp, out);
        }
        return false;
    }

    bool number(JsonValue& v) {
        const std::size_t start = at_;
        auto digits = [&] {
            const std::size_t from = at_;
            while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') at_++;
            return at_ > from;
        };
        if (at_ < s_.size() && s_[at_] == '-') at_++;
        if (at_ < s_.size() && s_[at_] == '0') at_++;
        else if (!digits()) return false;
        if (at_ < s_.size() && s_[at_] == '.') {
            at_++;
            if (!digits()) return false;
        }
        if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
            at_++;
            if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) at_++;
            if (!digits()) return false;
        }
        v.type = JsonValue::Type::number;
        v.number = std::strtod(std::string(s_.substr(start, at_ - start)).c_str(), nullptr);
        return true;
    }

    std::string_view s_;
    std::size_t at_ = 0;
};

}  // namespace

std::optional<JsonValue> parse_json(std::string_view text) { return JsonReader(text).document(); }

}  // namespace wb
