// Running the actjit tool as a child process in tests: arguments, standard
// input, and the exit status, standard output and standard error it gives.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace actjit::test {

struct Run {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

inline std::string slurp_fd(int fd) {
  std::string s;
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
  return s;
}

inline int temp_file() {
  char name[] = "/tmp/actjit-test-XXXXXX";
  int fd = mkstemp(name);
  unlink(name);
  return fd;
}

inline Run run(std::vector<std::string> args, const std::string& input = "", const std::string& exe = ACTJIT_CLI) {
  int in = temp_file(), out = temp_file(), err = temp_file();
  if (write(in, input.data(), input.size()) != ssize_t(input.size())) return {};
  lseek(in, 0, SEEK_SET);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv;
    std::string prog = exe;
    argv.push_back(prog.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(prog.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Run r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp_fd(out);
  r.err = slurp_fd(err);
  close(in);
  close(out);
  close(err);
  return r;
}


}  // namespace actjit::test
