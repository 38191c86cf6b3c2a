// QR codes as PNG images (libqrencode + libpng), for the portal link and the TOTP secret.
// Thread safety: stateless functions.
#pragma once

#include <string>

#include "events/status.h"

namespace remit {

// A QR code of `text` (error correction M, 4-module quiet zone) as an 8-bit grayscale PNG at
// least `min_width_px` wide.
Result<std::string> QrPng(const std::string& text, int min_width_px = 300);

// Standard base64 (for data: URLs).
std::string Base64(const std::string& bytes);

}  // namespace remit
