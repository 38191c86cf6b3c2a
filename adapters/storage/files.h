// Files beside the stores: reading one whole, writing one durably (fsynced), and replacing one
// atomically (a crash leaves the old file or the new one, never a mix).
// Thread safety: pure functions; concurrent writers of one path must be serialised by the caller.
#pragma once

#include <string>

#include "events/status.h"

namespace remit {

// Reads a file whole; NotFound when it cannot be opened.
Result<std::string> ReadFile(const std::string& path);
// Writes a file with the given mode (created or truncated, then fsynced).
Status WriteFileMode(const std::string& path, const std::string& data, unsigned mode);
// Writes `path`.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
Status ReplaceFileDurably(const std::string& path, const std::string& data, unsigned mode);
// Makes `dir` and everything beneath it its owner's alone: directories 0700, files 0600
// (symbolic links are not followed). Returns how many entries others could reach before;
// IOError naming the first one that cannot be changed (another user's).
Result<size_t> TightenTree(const std::string& dir);

}  // namespace remit
