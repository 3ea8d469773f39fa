// The thread pool (see pool.hpp).
#include "runtime/src/pool.hpp"

#include <cstdlib>

#include "compiler/jit/quiet_thread.hpp"

namespace actjit::detail {

Pool& Pool::instance() {
  static Pool pool;
  return pool;
}

Pool::Pool() {
  unsigned n = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("ACTJIT_NUM_THREADS")) {
    long v = std::strtol(env, nullptr, 10);
    if (v >= 1 && v <= 1024) n = unsigned(v);
  }
  threads_ = n == 0 ? 1 : n;
}

Pool::~Pool() { stop_workers(); }

unsigned Pool::threads() const {
  std::lock_guard<std::mutex> lock(m_);
  return threads_;
}

void Pool::set_threads(unsigned n) {
  std::lock_guard<std::mutex> run(run_mu_);  // no job in flight
  stop_workers();
  std::lock_guard<std::mutex> lock(m_);
  threads_ = n == 0 ? 1 : n;
}

void Pool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(m_);
  stop_ = false;
}

void Pool::work() {
  std::unique_lock<std::mutex> lock(m_);
  unsigned long long seen = generation_;
  while (true) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    while (job_ && next_ < tasks_) {
      size_t i = next_++;
      const std::function<void(size_t)>* job = job_;
      lock.unlock();
      (*job)(i);
      lock.lock();
      if (++finished_ == tasks_) done_.notify_all();
    }
  }
}

void Pool::run(size_t tasks, const std::function<void(size_t)>& f) {
  std::unique_lock<std::mutex> running(run_mu_, std::try_to_lock);
  if (tasks <= 1 || !running.owns_lock() || threads() <= 1) {
    for (size_t i = 0; i < tasks; ++i) f(i);
    return;
  }
  std::unique_lock<std::mutex> lock(m_);
  while (workers_.size() + 1 < threads_) workers_.push_back(quiet_thread([this] { work(); }));
  job_ = &f;
  tasks_ = tasks;
  next_ = 0;
  finished_ = 0;
  ++generation_;
  wake_.notify_all();
  while (next_ < tasks_) {  // the caller works too
    size_t i = next_++;
    lock.unlock();
    f(i);
    lock.lock();
    ++finished_;
  }
  done_.wait(lock, [&] { return finished_ == tasks_; });
  job_ = nullptr;
  tasks_ = 0;
}

}  // namespace actjit::detail
