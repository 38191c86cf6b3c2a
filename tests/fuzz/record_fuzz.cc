// libFuzzer target: the record decoder and the chain check, on bytes as they could lie in a log
// (a damaged disk, an edited file). Each input is split into records at the 4-byte marker
// "\xffREC"; every record is decoded (whole, and into one reused event) and the decoded ones are
// chained in order. Nothing may crash, both decoders must agree, and what decodes must have one
// canonical sealed form.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"

using namespace remit;

namespace {

void WriteSeeds(const std::string& dir) {
  Hash256 prev{};
  std::string all;
  std::vector<Payload> payloads = {
      PracticeRegistered{"Seed Dental", "USD"},
      PatientUpserted{"P1", "Jane", "Doe", "555", "j@x", "1980-01-01", ""},
      ChargePosted{"C1", "P1", 12000, "Exam", "2026-11-01"},
  };
  PaymentPosted posted;
  posted.payment_id = "pay1";
  posted.allocations = {{"C1", "P1", 5000}};
  payloads.push_back(posted);
  for (size_t i = 0; i < payloads.size(); ++i) {
    Event e;
    e.practice_id = "seed-dental";
    e.command_key = "seed" + std::to_string(i);
    e.event_id = DeriveEventId(e.practice_id, e.command_key, 0);
    e.occurred_at_us = 1780000000000000 + static_cast<int64_t>(i);
    e.payload = payloads[i];
    std::string rec = Seal(&e, prev);
    prev = e.hash;
    std::ofstream(dir + "/record" + std::to_string(i), std::ios::binary) << rec;
    all += (all.empty() ? "" : "\xffREC") + rec;
  }
  std::ofstream(dir + "/chain", std::ios::binary) << all;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("REMIT_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ChainVerifier chain;
  Event reused;
  uint64_t offset = 0;
  while (true) {
    size_t cut = in.find("\xffREC");
    std::string_view rec = in.substr(0, cut);
    auto ev = DecodeRecord(rec);
    Status into = DecodeRecordInto(rec, &reused);
    if (ev.ok() != into.ok()) {  // the two decoders must agree
      std::fprintf(stderr, "decoders disagree: %s / %s\n", ev.status().ToString().c_str(),
                   into.ToString().c_str());
      std::abort();
    }
    if (ev.ok()) {
      chain.Check(offset++, *ev).IgnoreError();
      // What decodes has one canonical form: sealing the decoded event and decoding that gives
      // the same bytes again. (The record itself need not be canonical: whoever rewrites bytes
      // and their hash makes a record that verifies alone; the chain's links catch that.)
      Event again = *ev;
      std::string canon = Seal(&again, ev->prev_hash);
      auto back = DecodeRecord(canon);
      if (!back.ok()) {
        std::fprintf(stderr, "a decoded event does not decode after sealing: %s\n",
                     back.status().ToString().c_str());
        std::abort();
      }
      Event twice = *back;
      if (Seal(&twice, ev->prev_hash) != canon) {
        std::fprintf(stderr, "sealing a decoded event is not stable\n");
        std::abort();
      }
    }
    if (cut == std::string_view::npos) break;
    in.remove_prefix(cut + 4);
  }
  return 0;
}
