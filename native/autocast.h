// AutocastGuard: torch.autocast as an RAII scope.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <optional>

namespace bt {

// The autocast dtype active on this thread for device type `t`, if any.
inline std::optional<torch::ScalarType> ActiveAutocast(at::DeviceType t) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  if (at::autocast::is_autocast_enabled(t)) return at::autocast::get_autocast_dtype(t);
#else
  if (t == at::kCUDA && at::autocast::is_enabled()) return at::autocast::get_autocast_gpu_dtype();
#endif
  return std::nullopt;
}

// torch.autocast for the calling thread (autocast state is thread-local, so it
// is set inside the worker). The device-generic API exists from 2.4 on.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& d, std::optional<torch::ScalarType> dtype)
      : type_(d.type()), on_(dtype.has_value()) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    prev_ = at::autocast::is_autocast_enabled(type_);
    at::autocast::set_autocast_dtype(type_, *dtype);
    at::autocast::set_autocast_enabled(type_, true);
#else
    TORCH_CHECK(type_ == at::kCUDA, "autocast needs CUDA with libtorch < 2.4");
    prev_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(*dtype);
    at::autocast::set_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, prev_);
#else
    at::autocast::set_enabled(prev_);
#endif
  }

 private:
  at::DeviceType type_;
  bool on_;
  bool prev_ = false;
};

}  // namespace bt
