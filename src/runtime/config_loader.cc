// Reads the YAML configuration and checks it against the schema below. The schema is the tables of
// Field entries: one table per mapping, naming each key it accepts and how its value is read.
// Everything the file sets is checked; every problem is reported with its position, not only the
// first, so that an operator fixes a config in one round instead of one error per restart. The
// `routes:` section is compiled by the routing-script compiler (src/script/), whose errors join
// these in the same form.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "diagnostics.h"
#include "loader.h"
#include "strowger/module/module.h"
#include "strowger/runtime/config.h"
#include "strowger/script/registry.h"
#include "strowger/script/script.h"

#ifndef STROWGER_VERSION
#error "STROWGER_VERSION must be defined by the build"
#endif

namespace strowger::runtime {
namespace {

// The version is named in "not supported" errors: the key may well be valid for a newer release.
constexpr std::string_view kTopLevelNotSupported =
    "not supported by this version (strowger " STROWGER_VERSION
    " reads only \"server\", \"modules\" and \"routes\")";

class Loader;

// One key/value pair of a mapping, as seen by the function that reads the value.
struct Entry {
  std::string key;   // the key as written
  std::string path;  // dotted path from the top, e.g. "server.log.level"
  YAML::Node value;
  YAML::Mark keyMark;
  YAML::Mark valueMark;  // falls back to keyMark when yaml-cpp gives the value no position
};

template <class T>
struct Field {
  std::string_view key;
  bool required;
  void (*read)(Loader& loader, const Entry& entry, T& out);
};

std::string joinPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out.append(key);
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return inQuotes(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "an empty value";
}

std::string didYouMean(std::string_view given, std::span<const std::string_view> candidates) {
  const std::optional<std::string_view> match = closestMatch(given, candidates);
  if (!match) return {};
  return "; did you mean " + inQuotes(*match) + "?";
}

class Loader {
 public:
  explicit Loader(std::string_view fileName) : file_(fileName) {
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(file_).parent_path();
    baseDir_ = std::filesystem::absolute(parent.empty() ? "." : parent, ec);
    if (ec) baseDir_ = parent;
  }

  void error(const YAML::Mark& mark, std::string key, std::string message) {
    ConfigError e;
    e.file = file_;
    if (!mark.is_null()) {
      e.line = mark.line + 1;
      e.column = mark.column + 1;
    }
    e.key = std::move(key);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  void fileError(std::string message) { error(YAML::Mark::null_mark(), {}, std::move(message)); }

  // An error found by the routing-script compiler, which reports in the same form.
  void scriptError(const script::ScriptError& e) {
    errors_.push_back(ConfigError{file_, e.line, e.column, e.path, e.message});
  }

  bool failed() const { return !errors_.empty(); }
  const std::string& file() const { return file_; }

  ConfigErrors takeErrors() {
    // Traversal order is nearly document order; checks made after a whole mapping was read (a
    // missing key, a key that needs another) are put back in place for the reader.
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const ConfigError& a, const ConfigError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return std::move(errors_);
  }

  const std::filesystem::path& baseDir() const { return baseDir_; }

 private:
  std::string file_;
  std::filesystem::path baseDir_;
  ConfigErrors errors_;
};

// The entries a mapping held, for checks that involve more than one key.
class Entries {
 public:
  void add(Entry entry) { entries_.push_back(std::move(entry)); }
  const Entry* find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

 private:
  std::vector<Entry> entries_;
};

YAML::Mark markOr(const YAML::Node& node, const YAML::Mark& fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark;
}

Entry makeEntry(std::string key, std::string path, const YAML::Node& value,
                const YAML::Mark& keyMark) {
  // yaml-cpp places an empty value where the next token starts, often on the next line; the key
  // is where the operator will look.
  const YAML::Mark valueMark = value.IsNull() ? keyMark : markOr(value, keyMark);
  return Entry{std::move(key), std::move(path), value, keyMark, valueMark};
}

// Reads a mapping against its schema. An empty value ("limits:" with every child commented out)
// counts as an empty mapping, so the defaults apply.
template <class T, std::size_t N>
Entries readMapping(Loader& loader, const Entry& parent, const std::array<Field<T>, N>& fields,
                    T& out) {
  const YAML::Node& node = parent.value;
  const YAML::Mark& mark = parent.valueMark;
  const std::string& path = parent.path;
  Entries seen;
  std::array<std::string_view, N> keys{};
  for (std::size_t i = 0; i < N; ++i)
    keys[i] = fields[i].key;

  if (!node.IsNull() && !node.IsMap()) {
    loader.error(mark, path,
                 "expected a mapping with the keys " + listOf(keys) + ", got " + describe(node));
    return seen;
  }
  if (node.IsMap()) {
    for (const auto& pair : node) {
      const YAML::Node& keyNode = pair.first;
      const YAML::Mark keyMark = markOr(keyNode, mark);
      if (!keyNode.IsScalar()) {
        loader.error(keyMark, path, "expected a key name, got " + describe(keyNode));
        continue;
      }
      const std::string& key = keyNode.Scalar();
      const std::string keyPath = joinPath(path, key);
      const auto field = std::find_if(fields.begin(), fields.end(),
                                      [&](const Field<T>& f) { return f.key == key; });
      if (field == fields.end()) {
        std::string hint = didYouMean(key, keys);
        if (hint.empty()) hint = "; expected one of " + listOf(keys);
        loader.error(keyMark, keyPath, "unknown key" + hint);
        continue;
      }
      // yaml-cpp keeps both entries of a repeated key; which one wins would be a guess.
      if (const Entry* first = seen.find(key)) {
        loader.error(keyMark, keyPath,
                     "given twice (first at line " + std::to_string(first->keyMark.line + 1) + ")");
        continue;
      }
      Entry entry = makeEntry(key, keyPath, pair.second, keyMark);
      field->read(loader, entry, out);
      seen.add(std::move(entry));
    }
  }
  for (const Field<T>& field : fields) {
    if (field.required && !seen.find(field.key)) {
      loader.error(parent.keyMark, joinPath(path, field.key), "missing; this key is required");
    }
  }
  return seen;
}

template <class E>
void readEnum(Loader& loader, const Entry& entry, std::span<const std::string_view> names, E& out) {
  if (entry.value.IsScalar()) {
    const std::string& text = entry.value.Scalar();
    const auto found = std::find(names.begin(), names.end(), text);
    if (found != names.end()) {
      out = static_cast<E>(found - names.begin());
      return;
    }
    loader.error(entry.valueMark, entry.path,
                 "expected one of " + listOf(names) + ", got " + describe(entry.value) +
                     didYouMean(text, names));
    return;
  }
  loader.error(entry.valueMark, entry.path,
               "expected one of " + listOf(names) + ", got " + describe(entry.value));
}

template <class U>
void readInteger(Loader& loader, const Entry& entry, IntRange range, U& out) {
  const std::string expected =
      "expected an integer " + std::to_string(range.min) + ".." + std::to_string(range.max);
  if (!entry.value.IsScalar()) {
    loader.error(entry.valueMark, entry.path, expected + ", got " + describe(entry.value));
    return;
  }
  const std::string& text = entry.value.Scalar();
  // Plain decimal only: YAML 1.1 would also read "0x400", "0o17" or "1_024", which nobody means in
  // a byte limit and which would make the error text disagree with what was read.
  const bool digits =
      !text.empty() && text.size() <= 18 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int64_t value = digits ? std::stoll(text) : -1;
  if (!digits || !range.contains(value)) {
    loader.error(entry.valueMark, entry.path, expected + ", got " + describe(entry.value));
    return;
  }
  out = static_cast<U>(value);
}

void readListen(Loader& loader, const Entry& entry, Config::Server& out) {
  const std::string example = "such as [ \"udp:0.0.0.0:5060\", \"tcp:0.0.0.0:5060\" ]";
  if (!entry.value.IsSequence()) {
    loader.error(entry.valueMark, entry.path,
                 "expected a list of addresses " + example + ", got " + describe(entry.value));
    return;
  }
  if (entry.value.size() == 0) {
    loader.error(entry.valueMark, entry.path, "expected at least one address " + example);
    return;
  }
  std::vector<YAML::Mark> marks;
  for (const YAML::Node& item : entry.value) {
    const YAML::Mark mark = markOr(item, entry.valueMark);
    if (!item.IsScalar()) {
      loader.error(mark, entry.path,
                   "expected an address such as \"udp:0.0.0.0:5060\", got " + describe(item));
      continue;
    }
    Expected<ListenAddress, std::string> address = parseListenAddress(item.Scalar());
    if (!address) {
      loader.error(mark, entry.path, address.error());
      continue;
    }
    if (!isTransportSupported(address->transport)) {
      loader.error(mark, entry.path,
                   "transport " + inQuotes(transportName(address->transport)) +
                       " is not supported by this version; use udp or tcp");
      continue;
    }
    const auto same = std::find(out.listen.begin(), out.listen.end(), *address);
    if (same != out.listen.end()) {
      const YAML::Mark& first = marks[static_cast<std::size_t>(same - out.listen.begin())];
      loader.error(mark, entry.path,
                   inQuotes(address->toString()) + " is listed twice (first at line " +
                       std::to_string(first.line + 1) + ")");
      continue;
    }
    out.listen.push_back(std::move(address).value());
    marks.push_back(mark);
  }
}

void readWorkers(Loader& loader, const Entry& entry, Config::Server& out) {
  if (!entry.value.IsScalar()) {
    loader.error(entry.valueMark, entry.path,
                 "expected \"auto\" or an integer 1.." + std::to_string(kMaxWorkers) + ", got " +
                     describe(entry.value));
    return;
  }
  Expected<unsigned, std::string> workers = parseWorkers(entry.value.Scalar());
  if (!workers) {
    loader.error(entry.valueMark, entry.path, workers.error());
    return;
  }
  out.workers = *workers;
}

void readLogFile(Loader& loader, const Entry& entry, Config::Log& out) {
  if (!entry.value.IsScalar() || entry.value.Scalar().empty()) {
    loader.error(entry.valueMark, entry.path, "expected a file path, got " + describe(entry.value));
    return;
  }
  // Relative to the config file, not to the working directory, which for a service is "/".
  out.file = (loader.baseDir() / entry.value.Scalar()).lexically_normal().string();
}

const std::array<Field<Config::Log>, 4> kLogFields = {{
    {"level", false,
     [](Loader& l, const Entry& e, Config::Log& out) {
       readEnum(l, e, logLevelNames(), out.level);
     }},
    {"format", false,
     [](Loader& l, const Entry& e, Config::Log& out) {
       readEnum(l, e, logFormatNames(), out.format);
     }},
    {"target", false,
     [](Loader& l, const Entry& e, Config::Log& out) {
       readEnum(l, e, logTargetNames(), out.target);
     }},
    {"file", false, readLogFile},
}};

void readLog(Loader& loader, const Entry& entry, Config::Server& out) {
  const Entries seen = readMapping(loader, entry, kLogFields, out.log);
  const Entry* target = seen.find("target");
  const Entry* file = seen.find("file");
  // A target that failed to read has already been reported; do not pile guesses on top.
  if (target &&
      (!target->value.IsScalar() || target->value.Scalar() != logTargetName(out.log.target))) {
    return;
  }
  if (out.log.target == LogTarget::kFile && !file) {
    loader.error(target ? target->valueMark : entry.valueMark, joinPath(entry.path, "file"),
                 "missing; required when target is \"file\"");
  }
  // A file given for another target is a sign the operator believes logs go there; they don't.
  if (file && out.log.target != LogTarget::kFile) {
    loader.error(file->keyMark, file->path,
                 "only used when target is \"file\" (target is " +
                     inQuotes(logTargetName(out.log.target)) + (target ? ")" : " by default)"));
  }
}

const std::array<Field<Config::Limits>, 3> kLimitsFields = {{
    {"max_message_bytes", false,
     [](Loader& l, const Entry& e, Config::Limits& out) {
       readInteger(l, e, Config::Limits::kMessageBytesRange, out.maxMessageBytes);
     }},
    {"max_headers", false,
     [](Loader& l, const Entry& e, Config::Limits& out) {
       readInteger(l, e, Config::Limits::kHeadersRange, out.maxHeaders);
     }},
    {"max_line_bytes", false,
     [](Loader& l, const Entry& e, Config::Limits& out) {
       readInteger(l, e, Config::Limits::kLineBytesRange, out.maxLineBytes);
     }},
}};

void readLimits(Loader& loader, const Entry& entry, Config::Server& out) {
  readMapping(loader, entry, kLimitsFields, out.limits);
}

using Tx = Config::Transactions;
const std::array<Field<Tx>, 7> kTransactionFields = {{
    {"max", false,
     [](Loader& l, const Entry& e, Tx& out) { readInteger(l, e, Tx::kMaxRange, out.max); }},
    {"retry_after", false,
     [](Loader& l, const Entry& e, Tx& out) {
       readInteger(l, e, Tx::kRetryAfterRange, out.retryAfter);
     }},
    {"t1", false,
     [](Loader& l, const Entry& e, Tx& out) { readInteger(l, e, Tx::kT1Range, out.t1); }},
    {"t2", false,
     [](Loader& l, const Entry& e, Tx& out) { readInteger(l, e, Tx::kT2Range, out.t2); }},
    {"t4", false,
     [](Loader& l, const Entry& e, Tx& out) { readInteger(l, e, Tx::kT4Range, out.t4); }},
    {"fr_timeout", false,
     [](Loader& l, const Entry& e, Tx& out) {
       readInteger(l, e, Tx::kFrTimeoutRange, out.frTimeout);
     }},
    {"fr_inv_timeout", false,
     [](Loader& l, const Entry& e, Tx& out) {
       readInteger(l, e, Tx::kFrInvTimeoutRange, out.frInvTimeout);
     }},
}};

void readTransactions(Loader& loader, const Entry& entry, Config::Server& out) {
  readMapping(loader, entry, kTransactionFields, out.transactions);
  // T2 caps the retransmission interval that starts at T1 (RFC 3261 §17.1.2.2).
  if (out.transactions.t2 < out.transactions.t1) {
    loader.error(entry.keyMark, entry.path,
                 "t2 (" + std::to_string(out.transactions.t2) +
                     " ms) must not be smaller than t1 (" + std::to_string(out.transactions.t1) +
                     " ms)");
  }
}

const std::array<Field<Config::Server>, 5> kServerFields = {{
    {"listen", true, readListen},
    {"workers", false, readWorkers},
    {"log", false, readLog},
    {"limits", false, readLimits},
    {"transactions", false, readTransactions},
}};

void readServer(Loader& loader, const Entry& entry, Config& out) {
  readMapping(loader, entry, kServerFields, out.server);
}

// The steps a routing script may use: the built-in ones, then those of the modules this
// configuration loads. Built for each configuration, as its modules may differ.
script::StepRegistry builtinRegistry() {
  script::StepRegistry r;
  [[maybe_unused]] const Expected<void, std::string> added = script::registerBuiltinSteps(r);
  assert(added.hasValue());  // the built-in names are distinct by construction
  return r;
}

bool isModuleName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// What a module's configure() sees.
class ModuleConfigure final : public module::ConfigureContext {
 public:
  ModuleConfigure(Loader& loader, const Entry& entry, script::StepRegistry& registry,
                  const std::vector<module::LoadedModule*>& before)
      : loader_(loader), entry_(entry), registry_(registry), before_(before) {}

  std::string_view file() const override { return loader_.file(); }
  const YAML::Node& section() const override { return entry_.value; }
  void error(const YAML::Node& node, std::string_view key, std::string message) override {
    const YAML::Mark mark =
        node.IsDefined() && !node.IsNull() ? markOr(node, entry_.valueMark) : entry_.valueMark;
    loader_.error(mark, key.empty() ? entry_.path : joinPath(entry_.path, key), std::move(message));
  }
  script::StepRegistry& steps() override { return registry_; }
  module::Module* findModule(std::string_view name) override {
    for (module::LoadedModule* m : before_) {
      if (m->name == name) return m->instance.get();
    }
    return nullptr;
  }

 private:
  Loader& loader_;
  const Entry& entry_;
  script::StepRegistry& registry_;
  const std::vector<module::LoadedModule*>& before_;
};

// `modules:`: `directory`, then one key per module with its section as the value.
void readModules(Loader& loader, const Entry& entry, Config& out, script::StepRegistry& registry) {
  if (entry.value.IsNull()) return;
  if (!entry.value.IsMap()) {
    loader.error(
        entry.valueMark, entry.path,
        "expected a mapping of module names to their settings, got " + describe(entry.value));
    return;
  }
  std::vector<Entry> modules;
  for (const auto& pair : entry.value) {
    const YAML::Mark keyMark = markOr(pair.first, entry.valueMark);
    if (!pair.first.IsScalar()) {
      loader.error(keyMark, entry.path, "expected a module name, got " + describe(pair.first));
      continue;
    }
    const std::string& key = pair.first.Scalar();
    Entry child = makeEntry(key, joinPath(entry.path, key), pair.second, keyMark);
    if (key == "directory") {
      if (!pair.second.IsScalar() || pair.second.Scalar().empty()) {
        loader.error(child.valueMark, child.path,
                     "expected the directory holding the modules, got " + describe(pair.second));
        continue;
      }
      std::error_code ec;
      out.modules.directory =
          std::filesystem::absolute(loader.baseDir() / pair.second.Scalar(), ec).lexically_normal();
      continue;
    }
    if (!isModuleName(key)) {
      loader.error(keyMark, child.path,
                   "expected a module name (lower case letters, digits and _), or \"directory\"");
      continue;
    }
    modules.push_back(std::move(child));
  }
  if (out.modules.directory.empty()) out.modules.directory = module::defaultModuleDirectory();
  std::vector<module::LoadedModule*> loaded;
  for (const Entry& m : modules) {
    if (std::find(out.modules.names.begin(), out.modules.names.end(), m.key) !=
        out.modules.names.end()) {
      loader.error(m.keyMark, m.path, "module listed twice");
      continue;
    }
    auto module = module::ModuleLoader::instance().load(m.key, out.modules.directory);
    if (!module) {
      loader.error(m.keyMark, m.path, "module " + m.key + " not loaded: " + module.error());
      continue;
    }
    ModuleConfigure context(loader, m, registry, loaded);
    if (!(*module)->instance->configure(context) && !loader.failed()) {
      loader.error(m.keyMark, m.path, "module " + m.key + " refused its settings");
    }
    loaded.push_back(*module);
    out.modules.names.push_back(m.key);
  }
}

// For a step nobody registered whose name starts with a module's name: say which module to load.
void explainModuleSteps(script::StepRegistry& registry, const Config& config) {
  registry.setUnknownStepExplainer(
      [directory = config.modules.directory, names = config.modules.names](std::string_view name) {
        const std::size_t dot = name.find('.');
        if (dot == std::string_view::npos) return std::string();
        const std::string_view prefix = name.substr(0, dot);
        if (std::find(names.begin(), names.end(), prefix) != names.end()) return std::string();
        const std::string dir = directory.empty() ? module::defaultModuleDirectory() : directory;
        if (!module::ModuleLoader::available(prefix, dir)) return std::string();
        return "it belongs to the module " + std::string(prefix) +
               ", which this configuration does not load; add \"" + std::string(prefix) +
               ":\" under \"modules:\"";
      });
}

void readRoutes(Loader& loader, const Entry& entry, Config& out,
                const script::StepRegistry& registry) {
  if (entry.value.IsNull()) {
    loader.error(entry.keyMark, entry.path,
                 "empty; expected the named routes, with at least \"request\" (docs/routing.md)");
    return;
  }
  auto routes = script::compileRoutes(entry.value, loader.file(), registry);
  if (!routes) {
    for (const script::ScriptError& e : routes.error())
      loader.scriptError(e);
    return;
  }
  out.routes = std::move(routes).value();
}

void readTopLevel(Loader& loader, const YAML::Node& root, Config& out) {
  if (!root.IsMap()) {
    loader.error(root.Mark(), {},
                 "expected a mapping with a \"server\" section, got " + describe(root));
    return;
  }
  static constexpr std::array<std::string_view, 3> kSections = {"server", "modules", "routes"};
  std::array<std::optional<YAML::Mark>, kSections.size()> first;
  std::array<std::optional<Entry>, kSections.size()> entries;
  for (const auto& pair : root) {
    const YAML::Node& keyNode = pair.first;
    const YAML::Mark keyMark = markOr(keyNode, root.Mark());
    if (!keyNode.IsScalar()) {
      loader.error(keyMark, {}, "expected a section name, got " + describe(keyNode));
      continue;
    }
    const std::string& key = keyNode.Scalar();
    const auto section = std::find(kSections.begin(), kSections.end(), key);
    if (section == kSections.end()) {
      loader.error(
          keyMark, key,
          "unknown section, " + std::string(kTopLevelNotSupported) + didYouMean(key, kSections));
      continue;
    }
    std::optional<YAML::Mark>& seen = first[static_cast<std::size_t>(section - kSections.begin())];
    if (seen) {
      loader.error(keyMark, key,
                   "given twice (first at line " + std::to_string(seen->line + 1) + ")");
      continue;
    }
    seen = keyMark;
    entries[static_cast<std::size_t>(section - kSections.begin())] =
        makeEntry(key, key, pair.second, keyMark);
  }
  // Modules before routes, whatever the file's order: the routes use the modules' steps.
  if (entries[0]) readServer(loader, *entries[0], out);
  script::StepRegistry registry = builtinRegistry();
  if (entries[1]) readModules(loader, *entries[1], out, registry);
  explainModuleSteps(registry, out);
  if (entries[2]) readRoutes(loader, *entries[2], out, registry);
  if (!first[0]) loader.error(root.Mark(), "server", "missing; this section is required");
}

// yaml-cpp's message for a tab in indentation ("illegal map value", "end of map not found") does
// not mention the tab, and a tab is invisible in most editors; name the line that has one.
std::string tabHint(std::string_view yaml, const YAML::Exception& e) {
  if (e.msg.find("tab") != std::string::npos) return {};
  const YAML::Mark& mark = e.mark;
  int line = 1;
  bool atLineStart = true;
  for (char c : yaml) {
    if (!mark.is_null() && line > mark.line + 1) break;
    if (c == '\n') {
      ++line;
      atLineStart = true;
    } else if (atLineStart && c == '\t') {
      return " (line " + std::to_string(line) +
             " is indented with a tab; YAML indents with spaces only)";
    } else if (c != ' ') {
      atLineStart = false;
    }
  }
  return {};
}

}  // namespace

Expected<Config, ConfigErrors> parseConfig(std::string_view yaml, std::string_view fileName) {
  Loader loader(fileName);
  Config config;
  config.source = std::string(fileName);
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    if (documents.empty() || documents.front().IsNull()) {
      loader.fileError("the configuration is empty; expected a \"server\" section");
    } else {
      readTopLevel(loader, documents.front(), config);
      if (documents.size() > 1) {
        loader.error(documents[1].Mark(), {},
                     "a second YAML document; the configuration is a single document");
      }
    }
  } catch (const YAML::Exception& e) {
    // ParserException and the rest carry the position where yaml-cpp gave up.
    loader.error(e.mark, {}, "YAML syntax error: " + e.msg + tabHint(yaml, e));
  }
  if (loader.failed()) return unexpected(loader.takeErrors());
  return config;
}

Expected<Config, ConfigErrors> loadConfigFile(const std::string& path) {
  auto fail = [&path](std::string message) {
    return unexpected(ConfigErrors{ConfigError{path, 0, 0, {}, std::move(message)}});
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail("is a directory, not a configuration file");
  }
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) return fail("cannot open: " + std::generic_category().message(errno));
  std::string text;
  std::array<char, 16384> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0)
    text.append(buffer.data(), n);
  if (std::ferror(file.get()))
    return fail("cannot read: " + std::generic_category().message(errno));
  return parseConfig(text, path);
}

}  // namespace strowger::runtime
