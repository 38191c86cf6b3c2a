// Reading events written by an older schema (tests/schema/events_v0.fbs): fields added since
// read as their defaults, and the chain and hashes hold, because the stored bytes are hashed
// as they are and never rewritten.
#define BOOST_TEST_MODULE upcast
#include <boost/test/unit_test.hpp>

#include "events/event.h"
#include "events_v0_generated.h"

using namespace remit;
namespace v0 = remit::fb::v0;

namespace {

// Seals a v0 body exactly as the record format says (docs/events.md).
std::string SealV0(flatbuffers::FlatBufferBuilder& b, const Hash256& prev, Hash256* hash) {
  std::string_view body(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  *hash = Sha256(std::string_view(reinterpret_cast<const char*>(prev.data()), 32), body);
  std::string rec("RMEVT01", 8);
  rec.append(reinterpret_cast<const char*>(prev.data()), 32);
  rec.append(reinterpret_cast<const char*>(hash->data()), 32);
  rec.append(body);
  return rec;
}

template <typename MakePayload>
std::string WriteV0(v0::Payload type, const MakePayload& make, const Hash256& prev, Hash256* hash) {
  flatbuffers::FlatBufferBuilder b;
  EventId id = DeriveEventId("old-dental", "k", 0);
  auto eid = b.CreateVector(id.data(), id.size());
  auto practice = b.CreateString("old-dental");
  auto key = b.CreateString("k");
  auto actor = b.CreateString("operator");
  auto payload = make(b);
  b.Finish(v0::CreateBody(b, eid, practice, 1780000000000000, 1, key, 0, actor, type, payload));
  return SealV0(b, prev, hash);
}

}  // namespace

BOOST_AUTO_TEST_CASE(old_events_read_with_defaults_for_new_fields) {
  Hash256 h1{}, h2{};
  std::string posted = WriteV0(
      v0::Payload::PaymentPosted,
      [](flatbuffers::FlatBufferBuilder& b) {
        auto a = v0::CreateAllocation(b, b.CreateString("C1"), b.CreateString("P1"), 700);
        std::vector<flatbuffers::Offset<v0::Allocation>> v = {a};
        return v0::CreatePaymentPosted(b, b.CreateString("pay1"), b.CreateVector(v), 300,
                                       b.CreateString("auto"))
            .Union();
      },
      Hash256{}, &h1);
  std::string session = WriteV0(
      v0::Payload::SessionStarted,
      [](flatbuffers::FlatBufferBuilder& b) {
        return v0::CreateSessionStarted(b, b.CreateString("s1"), b.CreateString("P1"), 99).Union();
      },
      h1, &h2);

  auto p = DecodeRecord(posted);
  BOOST_REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  const auto& pp = std::get<PaymentPosted>(p->payload);
  BOOST_TEST(pp.payment_id == "pay1");
  BOOST_TEST(pp.allocations.at(0).amount_cents == 700);
  BOOST_TEST(pp.unapplied_cents == 300);
  BOOST_TEST(pp.guarantor_id.empty());  // added later: its default
  auto s = DecodeRecord(session);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(std::get<SessionStarted>(s->payload).expires_at_us == 99);
  BOOST_TEST(std::get<SessionStarted>(s->payload).username.empty());

  ChainVerifier chain;
  BOOST_TEST(chain.Check(0, *p).ok());
  BOOST_TEST(chain.Check(1, *s).ok());
}
