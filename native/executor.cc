#include "executor.h"

namespace bt {

Executor& Executor::Get(Kind kind) {
  // Leaked on purpose: a detached thread may still be inside a job at exit.
  static Executor* compute = new Executor();
  static Executor* collective = new Executor();
  return kind == kCompute ? *compute : *collective;
}

Executor::Executor() { std::thread([this] { Loop(); }).detach(); }

void Executor::Post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Executor::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty(); });
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace bt
