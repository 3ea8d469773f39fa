// Threads the library starts for itself (the JIT's compile helper, the
// runtime's pool) take no asynchronous signals: a process-directed signal
// such as the REPL's Ctrl-C (SIGINT, whose handler jumps back into the line
// editor) must run on one of the application's threads, never on one that
// happens to be idle in actjit. Faults (SIGSEGV, ...) stay unblocked, so
// that a crash in such a thread is still reported.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace actjit {

template <class F>
std::thread quiet_thread(F&& f) {
  sigset_t quiet, old;
  sigfillset(&quiet);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&quiet, sig);
  pthread_sigmask(SIG_BLOCK, &quiet, &old);  // the new thread inherits the mask
  std::thread t;
  try {
    t = std::thread(std::forward<F>(f));
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace actjit
