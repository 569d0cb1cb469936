#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace bt {

namespace {

constexpr size_t kMinBytes = 256 << 10;   // smaller requests: libtorch's allocator (glibc's heap)
constexpr size_t kHugeBytes = 4 << 20;    // from here on, 2 MiB-aligned and MADV_HUGEPAGE
constexpr size_t kHugeAlign = 2 << 20;
constexpr size_t kPage = 4096;
constexpr size_t kMaxWaste = 2;           // a free block serves requests down to half its size

// Size classes 1/8 of a power of two apart (at most 12.5% rounding), whole pages.
size_t SizeClass(size_t n) {
  size_t top = size_t{1} << (63 - __builtin_clzll(n));
  size_t step = std::max(top / 8, kPage);
  return (n + step - 1) / step * step;
}

struct Mapping {
  void* base;
  size_t length;
  size_t size;    // the class size handed out
  int error = 0;  // errno of a failed mmap
};

class Cache {
 public:
  // limit: free bytes held at most; high_water: mapped bytes (in use + free)
  // above which a miss first gives free blocks back.
  Cache(uint64_t limit, uint64_t high_water) : limit_(limit), high_water_(high_water) {}

  void* Take(size_t n) {
    size_t size = SizeClass(n);
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The smallest free block of this class or up to kMaxWaste times larger:
      // with shapes that change every step (dynamic padding) a larger block
      // serves a smaller request instead of a new mapping.
      for (auto it = free_.lower_bound(size); it != free_.end() && it->first <= size * kMaxWaste; ++it) {
        if (it->second.empty()) continue;
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= it->first;
        stats_.in_use_bytes += it->first;
        stats_.hits++;
        return p;
      }
    }
    // Free blocks of other classes stay: a step needs its classes again in the
    // next step, and giving them back on each miss would thrash. The cap bounds them.
    Mapping m = Map(size);
    std::lock_guard<std::mutex> lock(mu_);
    // Near the process's memory limit, free blocks of other classes go back
    // first: under overcommit mmap does not fail, the OOM killer acts instead.
    if (m.base != nullptr && stats_.cached_bytes > 0 && stats_.in_use_bytes + stats_.cached_bytes + size > high_water_)
      ReleaseLocked(stats_.in_use_bytes + stats_.cached_bytes + size - high_water_);
    void* p = m.base == nullptr ? nullptr : Aligned(m);
    if (p == nullptr) {
      // Nothing mapped: give back what is cached and try once more, as the CUDA allocator does.
      ReleaseLocked(UINT64_MAX);
      m = Map(size);
      p = m.base == nullptr ? nullptr : Aligned(m);
    }
    if (p == nullptr) {
      C10_THROW_ERROR(OutOfMemoryError, "bertorch: could not map " + std::to_string(size >> 10) +
                                            " KiB for a CPU tensor (mmap: " + std::strerror(m.error) + ")");
    }
    live_[p] = m;
    stats_.in_use_bytes += size;
    stats_.misses++;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.in_use_bytes + stats_.cached_bytes);
    return p;
  }

  // False when p is not one of ours.
  bool Give(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return false;
    size_t size = it->second.size;
    stats_.in_use_bytes -= size;
    if (stats_.cached_bytes + size > limit_) {
      Unmap(it->second);
      live_.erase(it);
      stats_.released++;
      return true;
    }
    free_[size].push_back(p);
    stats_.cached_bytes += size;
    return true;
  }

  uint64_t ReleaseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    return ReleaseLocked(UINT64_MAX);
  }

  CpuCacheStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    CpuCacheStats s = stats_;
    s.installed = true;
    s.limit_bytes = limit_;
    return s;
  }

 private:
  // Over-maps large blocks by 2 MiB so an aligned start exists inside; the
  // excess is unmapped in Aligned().
  static Mapping Map(size_t size) {
    size_t length = size >= kHugeBytes ? size + kHugeAlign : size;
    void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return {nullptr, 0, size, errno};
    return {base, length, size};
  }

  static void* Aligned(Mapping& m) {
    if (m.size < kHugeBytes) return m.base;
    auto start = reinterpret_cast<uintptr_t>(m.base);
    uintptr_t aligned = (start + kHugeAlign - 1) & ~(kHugeAlign - 1);
    if (aligned > start) munmap(m.base, aligned - start);
    uintptr_t end = start + m.length, used = aligned + m.size;
    if (end > used) munmap(reinterpret_cast<void*>(used), end - used);
    m.base = reinterpret_cast<void*>(aligned);
    m.length = m.size;
#ifdef MADV_HUGEPAGE
    madvise(m.base, m.length, MADV_HUGEPAGE);  // advice only: ignored where THP is off
#endif
    return m.base;
  }

  static void Unmap(const Mapping& m) { munmap(m.base, m.length); }

  // Unmaps free blocks, largest class first, until at least `want` bytes are gone.
  uint64_t ReleaseLocked(uint64_t want) {
    uint64_t bytes = 0;
    for (auto c = free_.rbegin(); c != free_.rend() && bytes < want; ++c) {
      auto& ptrs = c->second;
      while (!ptrs.empty() && bytes < want) {
        auto it = live_.find(ptrs.back());
        ptrs.pop_back();
        Unmap(it->second);
        live_.erase(it);
        bytes += c->first;
        stats_.released++;
      }
    }
    stats_.cached_bytes -= bytes;
    return bytes;
  }

  std::mutex mu_;
  uint64_t limit_;
  uint64_t high_water_;
  std::map<size_t, std::vector<void*>> free_;
  std::unordered_map<void*, Mapping> live_;  // every block mapped here, in use or free
  CpuCacheStats stats_;
};

Cache* g_cache = nullptr;
c10::Allocator* g_fallback = nullptr;
std::string g_name = "default";

void FreeAny(void* p) {
  if (p == nullptr) return;
  if (!g_cache->Give(p)) g_fallback->raw_deleter()(p);  // a small block from raw_allocate
}

// One deviation from c10::Allocator's contract: raw_deleter() is FreeAny, but
// allocate() hands blocks under kMinBytes out with the fallback's deleter.
// FreeAny frees those too (raw_deallocate works); only code comparing a
// DataPtr's deleter with raw_deleter() would see the difference.
struct CachingCpuAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    if (n < kMinBytes) return g_fallback->allocate(n);
    void* p = g_cache->Take(n);
    return {p, p, &FreeAny, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &FreeAny; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
};

// The memory this process may use: the machine's, or less where its cgroup
// (v2: this process's own, from /proc/self/cgroup, and every parent; v1: the
// memory controller's) sets a limit.
uint64_t UsableMemoryOnce() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t total = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : uint64_t{8} << 30;
  auto clamp = [&](const std::string& path) {
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      unsigned long long v = 0;
      if (std::fscanf(f, "%llu", &v) == 1 && v > 0 && v < total) total = v;  // "max" does not parse
      std::fclose(f);
    }
  };
  std::string v2, v1;  // this process's cgroup paths ("0::/a/b", "N:memory:/a/b")
  if (FILE* f = std::fopen("/proc/self/cgroup", "r")) {
    char line[4096];
    while (std::fgets(line, sizeof line, f)) {
      std::string l(line);
      l = l.substr(0, l.find_last_not_of("\n") + 1);
      if (l.rfind("0::", 0) == 0) v2 = l.substr(3);
      auto m = l.find(":memory:");
      if (m != std::string::npos) v1 = l.substr(m + 8);
    }
    std::fclose(f);
  }
  auto walk = [&](const std::string& rel, const std::string& root, const char* file) {
    for (std::string dir = rel; !dir.empty() && dir != "/"; dir = dir.substr(0, dir.find_last_of('/')))
      clamp(root + dir + "/" + file);
    clamp(root + "/" + file);
  };
  walk(v2, "/sys/fs/cgroup", "memory.max");
  walk(v1, "/sys/fs/cgroup/memory", "memory.limit_in_bytes");
  return total;
}

void Install() {
  uint64_t usable = UsableMemoryOnce();
  uint64_t limit = usable / 4;
  std::string note;
  if (const char* v = std::getenv("BERTORCH_CPU_CACHE_MB")) {
    char* end = nullptr;
    errno = 0;
    unsigned long long mb = std::strtoull(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || v[0] == '-') {
      note = ", ignored BERTORCH_CPU_CACHE_MB='" + std::string(v) + "' (not a whole number)";
    } else if (mb == 0) {
      g_name = "default (BERTORCH_CPU_CACHE_MB=0)";
      return;
    } else {
      limit = mb > (uint64_t{1} << 43) ? uint64_t{1} << 63 : static_cast<uint64_t>(mb) << 20;
    }
  }
  g_fallback = c10::GetCPUAllocator();
  g_cache = new Cache(limit, usable / 4 * 3);  // never freed: tensors may outlive every env
  // Never destroyed either: c10's table keeps pointing at it through static destruction.
  auto* allocator = new CachingCpuAllocator();
  c10::SetCPUAllocator(allocator, /*priority=*/1);
  if (c10::GetCPUAllocator() != allocator) {
    g_name = "default (another allocator has priority)";
    return;
  }
  g_name = "caching (free blocks up to " + std::to_string(limit >> 20) + " MiB" + note + ")";
}

std::once_flag g_once;

}  // namespace

void InstallCpuCache() { std::call_once(g_once, Install); }

uint64_t UsableMemory() {
  static const uint64_t bytes = UsableMemoryOnce();
  return bytes;
}

CpuCacheStats GetCpuCacheStats() {
  if (g_cache == nullptr || g_name.rfind("caching", 0) != 0) return {};
  return g_cache->Stats();
}

uint64_t EmptyCpuCache() { return g_cache ? g_cache->ReleaseAll() : 0; }

std::string CpuAllocatorName() { return g_name; }

}  // namespace bt
