// The pages and their assets (web/), compiled into the binary by cmake/embed_web.cmake.
#pragma once

#include <optional>
#include <string_view>

namespace remit {

// The bytes of web/<name>, if there is such a file.
std::optional<std::string_view> WebAsset(std::string_view name);

}  // namespace remit
