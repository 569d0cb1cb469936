#include "dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <mutex>

namespace bt {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr int64_t kGrain = 1 << 15;

// SplitMix64's output function (Steele, Lea, Flood 2014). The generator's state
// after j steps is seed + j * kGolden, so Mix of that is its j-th draw: any
// thread can compute any draw, and the stream is the sequential one.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t DrawSeed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

// An element is kept when its 32-bit draw is >= threshold: P = 1 - threshold / 2^32,
// which is 1 - p to within 2^-33. Draw j (one 64-bit word) decides elements 2j
// (its low half) and 2j + 1 (its high half).
constexpr int64_t kBlock = 1024;  // elements per stack buffer of draws (even)

// Draws for elements [i0, i0 + 2 * pairs) of the stream, i0 even. A plain loop
// over counters, so the compiler vectorizes it; cloned per ISA because 64-bit
// multiplies vectorize only with AVX-512 (and are emulated with AVX2).
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define BT_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BT_ISA_CLONES  // ifunc clones need GCC on x86-64 ELF; elsewhere the baseline build
#endif
BT_ISA_CLONES
void Draws(uint64_t seed, int64_t i0, int64_t pairs, uint64_t* out) {
  uint64_t base = seed + static_cast<uint64_t>(i0 / 2 + 1) * kGolden;
  for (int64_t j = 0; j < pairs; j++) out[j] = Mix(base + static_cast<uint64_t>(j) * kGolden);
}

template <typename T>
void ForwardKernel(const T* x, T* y, bool* keep, int64_t n, uint64_t seed, uint32_t threshold, double p) {
  using acc = at::opmath_type<T>;
  const acc scale = static_cast<acc>(1.0 / (1.0 - p));
  at::parallel_for(0, (n + kBlock - 1) / kBlock, kGrain / kBlock, [&](int64_t begin, int64_t end) {
    uint64_t words[kBlock / 2];
    for (int64_t b = begin; b < end; b++) {
      int64_t i0 = b * kBlock, len = std::min(kBlock, n - i0);
      Draws(seed, i0, (len + 1) / 2, words);
      for (int64_t i = 0; i < len; i++) {
        auto draw = static_cast<uint32_t>(words[i >> 1] >> (32 * (i & 1)));  // low half for even i, high for odd
        bool k = draw >= threshold;
        keep[i0 + i] = k;
        // A multiply, not a select, so NaN and inf propagate as through at::dropout.
        y[i0 + i] = static_cast<T>(static_cast<acc>(x[i0 + i]) * (k ? scale : acc(0)));
      }
    }
  });
}

template <typename T>
void BackwardKernel(const T* g, const bool* keep, T* gx, int64_t n, double p) {
  using acc = at::opmath_type<T>;
  const acc scale = static_cast<acc>(1.0 / (1.0 - p));
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) gx[i] = static_cast<T>(static_cast<acc>(g[i]) * (keep[i] ? scale : acc(0)));
  });
}

// (y, keep) for a contiguous CPU floating tensor and 0 < p < 1.
std::pair<torch::Tensor, torch::Tensor> FusedForward(const torch::Tensor& input, double p) {
  auto x = input.contiguous();
  auto y = torch::empty_like(x, at::MemoryFormat::Contiguous);
  auto keep = torch::empty(x.sizes(), x.options().dtype(torch::kBool));
  uint64_t seed = DrawSeed();
  auto threshold = static_cast<uint32_t>(std::min(std::llround(p * 4294967296.0), 4294967295LL));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "bertorch_dropout", [&] {
    ForwardKernel<scalar_t>(x.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(), keep.mutable_data_ptr<bool>(),
                            x.numel(), seed, threshold, p);
  });
  return {y, keep};
}

torch::Tensor FusedBackward(const torch::Tensor& grad, const torch::Tensor& keep, double p) {
  auto g = grad.contiguous();
  auto gx = torch::empty_like(g, at::MemoryFormat::Contiguous);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, g.scalar_type(), "bertorch_dropout_backward", [&] {
    BackwardKernel<scalar_t>(g.const_data_ptr<scalar_t>(), keep.const_data_ptr<bool>(), gx.mutable_data_ptr<scalar_t>(),
                             g.numel(), p);
  });
  return gx;
}

struct FusedDropoutFn : torch::autograd::Function<FusedDropoutFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double p) {
    auto [y, keep] = FusedForward(x, p);
    ctx->save_for_backward({keep});
    ctx->saved_data["p"] = p;
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor()};
    auto keep = ctx->get_saved_variables()[0];
    double p = ctx->saved_data["p"].toDouble();
    // Under create_graph the gradient must itself be differentiable (double
    // backward, as through at::dropout): the same product in autograd ops.
    if (torch::GradMode::is_enabled() && grads[0].requires_grad())
      return {grads[0] * keep.to(grads[0].scalar_type()) * (1.0 / (1.0 - p)), torch::Tensor()};
    return {FusedBackward(grads[0], keep, p), torch::Tensor()};
  }
};

bool FusedEnabled() {
  // BERTORCH_FUSED_DROPOUT=0 takes at::dropout everywhere: the reference path, for A/B runs.
  static const bool on = [] {
    const char* v = std::getenv("BERTORCH_FUSED_DROPOUT");
    return !(v && std::string(v) == "0");
  }();
  return on;
}

bool FusedApplies(const torch::Tensor& x) {
  return FusedEnabled() && x.is_cpu() && x.layout() == torch::kStrided && at::isFloatingType(x.scalar_type()) && !x.is_nested() &&
         x.numel() > 0;
}

}  // namespace

torch::Tensor Dropout(const torch::Tensor& x, double p, bool train) {
  TORCH_CHECK_VALUE(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, but got ", p);
  if (!train || p == 0) return x;
  if (p == 1 || !FusedApplies(x)) return at::dropout(x, p, true);
  if (x.requires_grad() && torch::GradMode::is_enabled()) return FusedDropoutFn::apply(x, p);
  return FusedForward(x, p).first;
}

}  // namespace bt
