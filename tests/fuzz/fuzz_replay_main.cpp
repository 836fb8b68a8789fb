// Runs a libFuzzer target without libFuzzer (g++ builds, CI): every seed given on the command
// line, then a fixed-seed sweep of mutations of those seeds. Bounded in count; deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (seeds.empty()) seeds.emplace_back();
  // CI runs the fixed sweep; AMBIT_FUZZ_MUTATIONS and AMBIT_FUZZ_SEED run a longer or another one
  // by hand (e.g. under the asan preset where libFuzzer is not available).
  const char* seed_env = std::getenv("AMBIT_FUZZ_SEED");
  const char* count_env = std::getenv("AMBIT_FUZZ_MUTATIONS");
  std::mt19937_64 rng(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261125);
  const long kMutations = count_env ? std::strtol(count_env, nullptr, 10) : 20000;
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  for (long i = 0; i < kMutations; ++i) {
    std::string input = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = input.empty() ? 0 : rng() % (input.size() + 1);
      switch (rng() % 4) {
        case 0: input.insert(pos, 1, static_cast<char>(rng())); break;
        case 1: if (pos < input.size()) input.erase(pos, 1 + rng() % 3); break;
        case 2: if (pos < input.size()) input[pos] = static_cast<char>(rng()); break;
        default: input.insert(pos, seeds[rng() % seeds.size()].substr(0, rng() % 16)); break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("%zu seeds and %ld mutations ran clean\n", seeds.size(), kMutations);
  return 0;
}
