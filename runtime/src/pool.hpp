// The runtime's thread pool: kernel calls on large arrays are split into
// pieces that run on a few persistent worker threads and the calling thread.
// One job at a time: a caller that finds the pool busy (another thread is
// running a job) runs its pieces itself, so calls never wait on each other
// and never deadlock. Workers start on first use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace actjit::detail {

class Pool {
 public:
  /// The process-wide pool (threads: ACTJIT_NUM_THREADS, else the number of
  /// hardware threads).
  static Pool& instance();
  ~Pool();

  /// Runs f(0) ... f(tasks - 1), on up to threads() threads, the caller
  /// included; returns when all are done.
  void run(size_t tasks, const std::function<void(size_t)>& f);

  /// Threads a job may use (>= 1; 1 runs everything in the caller).
  unsigned threads() const;
  void set_threads(unsigned n);

 private:
  Pool();
  void work();  // a worker's loop
  void stop_workers();

  mutable std::mutex m_;
  std::condition_variable wake_, done_;
  std::mutex run_mu_;  // held by the caller whose job is running
  std::vector<std::thread> workers_;
  unsigned threads_ = 1;
  bool stop_ = false;
  unsigned long long generation_ = 0;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t tasks_ = 0, next_ = 0, finished_ = 0;
};

}  // namespace actjit::detail
