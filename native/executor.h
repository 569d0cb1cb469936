// Executors: long-lived native threads that run PromiseWorkers, instead of the
// libuv pool. libtorch's OpenMP keeps one thread team per calling thread; on
// the 4-thread libuv pool each step could land on another thread, so up to 4
// teams spun and competed for the cores and each thread grew its own malloc
// arena. One compute thread keeps one team (measured: BERT-mini training
// 33 -> 43 seq/s, peak RSS 1444 -> 881 MB on 2 cores). Collectives, which may
// block for their whole timeout, get a thread of their own.
// Lifetime: process-wide, never destroyed (the threads end with the process).
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace bt {

class Executor {
 public:
  enum Kind { kCompute, kCollective };
  static Executor& Get(Kind kind);
  void Post(std::function<void()> job);

 private:
  Executor();
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace bt
