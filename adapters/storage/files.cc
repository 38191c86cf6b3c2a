#include "adapters/storage/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace remit {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteFileMode(const std::string& path, const std::string& data, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError("cannot create " + path);
  ::fchmod(fd, mode);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Status::IOError("cannot write " + path);
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot sync " + path);
}

Status ReplaceFileDurably(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp";
  Status s = WriteFileMode(tmp, data, mode);
  if (!s.ok()) return s;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError("cannot rename " + tmp);
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + dir);
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::OK() : Status::IOError("cannot sync " + dir);
}

Result<size_t> TightenTree(const std::string& dir) {
  size_t loosened = 0;
  auto tighten = [&](const std::filesystem::path& p) -> Status {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return Status::OK();
    mode_t want = S_ISDIR(st.st_mode) ? 0700 : 0600;
    if ((st.st_mode & 077) == 0) return Status::OK();
    ++loosened;
    if (::chmod(p.c_str(), (st.st_mode & 0700) | want) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(st.st_mode & 0777));
      return Status::IOError("cannot make " + p.string() + " private (mode " + mode +
                             "): " + std::generic_category().message(errno));
    }
    return Status::OK();
  };
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return size_t{0};
  Status s = tighten(dir);
  if (!s.ok()) return s;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    s = tighten(it->path());
    if (!s.ok()) return s;
  }
  if (ec) return Status::IOError("cannot read " + dir + ": " + ec.message());
  return loosened;
}

}  // namespace remit
