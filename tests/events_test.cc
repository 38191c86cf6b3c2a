// The event vocabulary: codec round trips, verification of corrupt buffers, the hash chain,
// and the time and id rules of the contract.
#define BOOST_TEST_MODULE events
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>

#include "events/event.h"
#include "events/sha256.h"

using namespace remit;

namespace {

// One sample of every payload type, each with every field set.
std::vector<Payload> Samples() {
  Hash256 h{};
  h[0] = 7;
  return {
      PracticeRegistered{"Bright Smiles", "USD"},
      SettingsChanged{true, false},
      StaffTokenIssued{"tok_1", "admin", "front desk", h, 1790000000000000},
      StaffTokenRevoked{"tok_1"},
      PatientUpserted{"P1", "Jane", "Doe", "555-0100", "j@example.com", "1980-01-02", "P0"},
      ChargePosted{"C1", "P1", 12345, "Exam", "2026-11-01"},
      PortalInviteIssued{"P1", "inv1", 1780000000000000, true},
      PortalEnrolled{"P1", "jane", "inv1", "sec1"},
      IdentityVerified{"jane", "P1", "phone", "idid", 77},
      IdentityFailed{"jane", "email", "mismatch"},
      PasswordVerified{"jane", "P1", "chal", 78},
      PasswordFailed{"jane", "wrong_password"},
      SecondFactorVerified{"jane", "P1", 59333333, "chal"},
      SecondFactorFailed{"jane", "wrong_code", "chal"},
      LockedOut{"jane", "password", 1780000000000001},
      SessionStarted{"s1", "P1", 1780000000000002, "jane"},
      SessionEnded{"s1", "logout"},
      PaymentSubmitted{"pay1", "P1", "P0", 5000, "card1", "visa", "4242", true, "tok_x", 12, 2030},
      PaymentSucceeded{"pay1", "ref1"},
      PaymentDeclined{"pay2", "insufficient_funds"},
      CardSaved{"card1", "P1", "tok_visa", "visa", "4242", 12, 2030},
      CardRemoved{"card1", "P1"},
      PaymentPosted{"pay1", {{"C1", "P1", 4000}, {"C2", "P2", 900}}, 100, "auto", "P0"},
      InboxNotificationRead{"n1", "staff:tok_1"},
      RecordAccessed{"balance", "P1"},
  };
}

Event MakeEvent(const std::string& practice, Payload p, int i) {
  Event e;
  e.practice_id = practice;
  e.command_key = "key-" + std::to_string(i);
  e.event_id = DeriveEventId(practice, e.command_key, 0);
  e.occurred_at_us = 1780000000000000 + i;
  e.actor = "operator";
  e.request_sha256 = Sha256("request");
  e.payload = std::move(p);
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_payload_round_trips) {
  auto samples = Samples();
  BOOST_REQUIRE_EQUAL(samples.size(), kPayloadTypes);
  Hash256 prev{};
  int i = 0;
  for (auto& p : samples) {
    Event e = MakeEvent("pr-1", p, i++);
    std::string rec = Seal(&e, prev);
    auto back = DecodeRecord(rec);
    BOOST_REQUIRE_MESSAGE(back.ok(), back.status().ToString());
    BOOST_TEST(back->payload.index() == p.index());
    BOOST_TEST(TypeName(back->payload) == TypeName(p));
    BOOST_TEST(back->practice_id == "pr-1");
    BOOST_TEST(back->command_key == e.command_key);
    BOOST_TEST(back->occurred_at_us == e.occurred_at_us);
    BOOST_TEST((back->event_id == e.event_id));
    BOOST_TEST((back->prev_hash == prev));
    BOOST_TEST((back->hash == e.hash));
    // Re-sealing the decoded event gives the same bytes: nothing was lost in decoding.
    Event again = back.value();
    BOOST_TEST(Seal(&again, prev) == rec);
    prev = e.hash;
  }
}

// A replay decodes into events it reuses: every field must be set from the record, never left
// from the event decoded there before (an empty record after a full one of the same type, and
// every type after every other).
BOOST_AUTO_TEST_CASE(decoding_into_a_reused_event_leaves_nothing_of_the_last_one) {
  auto samples = Samples();
  Event reused;
  int i = 0;
  for (int round = 0; round < 2; ++round) {
    for (auto& p : samples) {
      Payload blank =
          std::visit([](const auto& x) { return Payload(std::decay_t<decltype(x)>{}); }, p);
      for (Payload* q : {&p, &blank, &p}) {
        Event e = MakeEvent(round == 0 ? "pr-1" : "practice-two", *q, i++);
        std::string rec = Seal(&e, Hash256{});
        BOOST_REQUIRE(DecodeRecordInto(rec, &reused).ok());
        Event again = reused;
        BOOST_TEST_CONTEXT(TypeName(*q)) { BOOST_TEST((Seal(&again, Hash256{}) == rec)); }
      }
    }
    std::reverse(samples.begin(), samples.end());
  }
}

BOOST_AUTO_TEST_CASE(payment_posted_keeps_its_allocations) {
  Event e = MakeEvent(
      "pr-1", PaymentPosted{"pay1", {{"C1", "P1", 4000}, {"C2", "P2", 900}}, 100, "auto", "P0"}, 1);
  auto back = DecodeRecord(Seal(&e, Hash256{}));
  BOOST_REQUIRE(back.ok());
  const auto& p = std::get<PaymentPosted>(back->payload);
  BOOST_REQUIRE_EQUAL(p.allocations.size(), 2u);
  BOOST_TEST(p.allocations[1].charge_id == "C2");
  BOOST_TEST(p.allocations[1].amount_cents == 900);
  BOOST_TEST(p.unapplied_cents == 100);
}

BOOST_AUTO_TEST_CASE(event_ids_are_deterministic_and_distinct) {
  BOOST_TEST((DeriveEventId("p", "k", 0) == DeriveEventId("p", "k", 0)));
  BOOST_TEST((DeriveEventId("p", "k", 0) != DeriveEventId("p", "k", 1)));
  BOOST_TEST((DeriveEventId("p", "k", 0) != DeriveEventId("q", "k", 0)));
}

BOOST_AUTO_TEST_CASE(every_flipped_byte_is_corruption_never_a_crash) {
  Event e = MakeEvent("pr-1", ChargePosted{"C1", "P1", 12345, "Exam", "2026-11-01"}, 1);
  std::string rec = Seal(&e, Hash256{});
  for (size_t i = 0; i < rec.size(); ++i) {
    std::string bad = rec;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto r = DecodeRecord(bad);
    BOOST_TEST_CONTEXT("byte " << i) { BOOST_TEST(!r.ok()); }
  }
  for (size_t len = 0; len < rec.size(); ++len) {
    BOOST_TEST(!DecodeRecord(std::string_view(rec).substr(0, len)).ok());
  }
}

BOOST_AUTO_TEST_CASE(random_garbage_is_corruption) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(rng() % 512, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    auto r = DecodeRecord(junk);
    BOOST_TEST(!r.ok());
    if (!r.ok()) BOOST_TEST(r.status().IsCorruption());
  }
}

BOOST_AUTO_TEST_CASE(hash_is_sha256_of_prev_hash_and_body) {
  Event e = MakeEvent("pr-1", SettingsChanged{true, true}, 1);
  Hash256 prev = Sha256("previous");
  Seal(&e, prev);
  BOOST_TEST((e.prev_hash == prev));
  BOOST_TEST((e.hash != Hash256{}));
  // A different predecessor gives a different hash for the same body.
  Event f = e;
  Seal(&f, Sha256("other"));
  BOOST_TEST((f.hash != e.hash));
}

BOOST_AUTO_TEST_CASE(chain_detects_missing_reordered_and_foreign_events) {
  std::vector<Event> chain;
  Hash256 prev{};
  for (int i = 0; i < 5; ++i) {
    Event e =
        MakeEvent("pr-1", ChargePosted{"C" + std::to_string(i), "P1", 100, "x", "2026-01-01"}, i);
    Seal(&e, prev);
    prev = e.hash;
    chain.push_back(e);
  }
  {
    ChainVerifier v;
    for (size_t i = 0; i < chain.size(); ++i) BOOST_TEST(v.Check(i, chain[i]).ok());
    BOOST_TEST(v.events_checked() == 5u);
    BOOST_TEST((v.Head("pr-1") == chain.back().hash));
  }
  {  // missing event 2
    ChainVerifier v;
    BOOST_TEST(v.Check(0, chain[0]).ok());
    BOOST_TEST(v.Check(1, chain[1]).ok());
    Status s = v.Check(2, chain[3]);
    BOOST_TEST(s.IsCorruption());
    BOOST_TEST(s.message().find("offset 2") != std::string::npos);
  }
  {  // swapped
    ChainVerifier v;
    BOOST_TEST(v.Check(0, chain[0]).ok());
    BOOST_TEST(!v.Check(1, chain[2]).ok());
  }
  {  // another practice's chain is independent
    ChainVerifier v;
    Event other = MakeEvent("pr-2", SettingsChanged{true, false}, 9);
    Seal(&other, Hash256{});
    BOOST_TEST(v.Check(0, chain[0]).ok());
    BOOST_TEST(v.Check(1, other).ok());
    BOOST_TEST(v.Check(2, chain[1]).ok());
  }
}

BOOST_AUTO_TEST_CASE(times_parse_and_format) {
  auto t = ParseTime("2026-11-27T10:01:19Z");
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(FormatTime(*t) == "2026-11-27T10:01:19Z");
  BOOST_TEST(*ParseTime("2026-11-27T11:01:19+01:00") == *t);
  BOOST_TEST(*ParseTime("2026-11-27T10:01:19.5Z") == *t + 500000);
  BOOST_TEST(*ParseTime("1970-01-01") == 0);
  BOOST_TEST(!ParseTime("2026-02-30T00:00:00Z").has_value());
  BOOST_TEST(!ParseTime("2026-11-27T25:00:00Z").has_value());
  BOOST_TEST(!ParseTime("yesterday").has_value());
  BOOST_TEST(!ParseTime("2026-11-27T10:01:19").has_value());
  BOOST_TEST(IsValidDate("2024-02-29"));
  BOOST_TEST(!IsValidDate("2023-02-29"));
}

BOOST_AUTO_TEST_CASE(id_rules_of_the_contract) {
  BOOST_TEST(IsValidPracticeId("demo-dental"));
  BOOST_TEST(!IsValidPracticeId("ab"));
  BOOST_TEST(!IsValidPracticeId("Demo"));
  BOOST_TEST(!IsValidPracticeId(std::string(41, 'a')));
  BOOST_TEST(IsValidExternalId("P_100-a"));
  BOOST_TEST(!IsValidExternalId(""));
  BOOST_TEST(!IsValidExternalId("P 100"));
  BOOST_TEST(!IsValidExternalId(std::string(65, 'a')));
  BOOST_TEST(IsValidIdempotencyKey("k"));
  BOOST_TEST(!IsValidIdempotencyKey(std::string(256, 'k')));
  BOOST_TEST(!IsValidIdempotencyKey("tab\there"));
}

// SHA-256 on the SHA extensions against OpenSSL, for every length across many padding
// boundaries and random splits of the input into its two pieces.
BOOST_AUTO_TEST_CASE(sha256_on_the_cpu_extensions_equals_openssl) {
  BOOST_TEST_MESSAGE("SHA extensions used: " << Sha256Accelerated());
  BOOST_TEST(Hex(Sha256("abc")) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(Hex(Sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::mt19937 rng(7);
  std::string bytes(2200, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  auto piece = [&](size_t len) {
    size_t at = rng() % (bytes.size() - len + 1);
    return std::string_view(bytes).substr(at, len);
  };
  for (size_t len = 0; len <= 1100; ++len) {
    std::string_view m = piece(len);
    size_t cut = len == 0 ? 0 : rng() % (len + 1);
    std::string_view a = m.substr(0, cut), b = m.substr(cut);
    BOOST_REQUIRE_MESSAGE(Sha256(a, b) == Sha256OpenSsl(a, b), "length " << len);
  }
}
