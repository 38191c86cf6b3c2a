#include "events/event.h"

#include <cstring>

#include "events_generated.h"

namespace remit {
namespace {

namespace fb = ::remit::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

constexpr std::string_view kTypeNames[] = {
    "practice_registered",    "settings_changed",     "staff_token_issued",
    "staff_token_revoked",    "patient_upserted",     "charge_posted",
    "portal_invite_issued",   "portal_enrolled",      "identity_verified",
    "identity_failed",        "password_verified",    "password_failed",
    "second_factor_verified", "second_factor_failed", "locked_out",
    "session_started",        "session_ended",        "payment_submitted",
    "payment_succeeded",      "payment_declined",     "card_saved",
    "card_removed",           "payment_posted",       "inbox_notification_read",
    "record_accessed"};
static_assert(std::size(kTypeNames) == kPayloadTypes);
static_assert(static_cast<size_t>(fb::Payload::MAX) == kPayloadTypes);

// Magic and version, 8 bytes, so that the body that follows the two hashes starts 8-aligned
// within the record (FlatBuffers reads 8-byte fields in place).
constexpr const char kRecordMagic[8] = {'R', 'M', 'E', 'V', 'T', '0', '1', '\0'};
constexpr size_t kRecordHeaderBytes = 8 + 32 + 32;

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }
void Assign(const flatbuffers::String* s, std::string* out) {
  if (s == nullptr) {
    out->clear();
  } else {
    out->assign(s->c_str(), s->size());
  }
}

template <size_t N>
bool CopyBytes(const flatbuffers::Vector<uint8_t>* v, std::array<uint8_t, N>* out) {
  if (v == nullptr || v->size() != N) return false;
  std::memcpy(out->data(), v->data(), N);
  return true;
}

// Encoding: one overload per payload, returning the union value offset.
struct Encoder {
  FlatBufferBuilder& b;
  Offset<flatbuffers::String> S(const std::string& s) { return b.CreateString(s); }

  Offset<void> operator()(const PracticeRegistered& e) {
    return fb::CreatePracticeRegistered(b, S(e.name), S(e.currency)).Union();
  }
  Offset<void> operator()(const SettingsChanged& e) {
    return fb::CreateSettingsChanged(b, e.portal_payments_enabled, e.auto_post_to_ledger).Union();
  }
  Offset<void> operator()(const StaffTokenIssued& e) {
    auto id = S(e.token_id), role = S(e.role), label = S(e.label);
    auto h = b.CreateVector(e.token_sha256.data(), e.token_sha256.size());
    return fb::CreateStaffTokenIssued(b, id, role, label, h, e.expires_at_us).Union();
  }
  Offset<void> operator()(const StaffTokenRevoked& e) {
    return fb::CreateStaffTokenRevoked(b, S(e.token_id)).Union();
  }
  Offset<void> operator()(const PatientUpserted& e) {
    auto a = S(e.patient_id), f = S(e.first_name), l = S(e.last_name), p = S(e.phone),
         m = S(e.email), d = S(e.date_of_birth), g = S(e.guarantor_id);
    return fb::CreatePatientUpserted(b, a, f, l, p, m, d, g).Union();
  }
  Offset<void> operator()(const ChargePosted& e) {
    auto c = S(e.charge_id), p = S(e.patient_id), d = S(e.description), s = S(e.service_date);
    return fb::CreateChargePosted(b, c, p, e.amount_cents, d, s).Union();
  }
  Offset<void> operator()(const PortalInviteIssued& e) {
    auto p = S(e.patient_id), i = S(e.invite_id);
    return fb::CreatePortalInviteIssued(b, p, i, e.expires_at_us, e.account_reset).Union();
  }
  Offset<void> operator()(const PortalEnrolled& e) {
    auto p = S(e.patient_id), u = S(e.username), i = S(e.invite_id), k = S(e.secret_id);
    return fb::CreatePortalEnrolled(b, p, u, i, k).Union();
  }
  Offset<void> operator()(const IdentityVerified& e) {
    auto u = S(e.username), p = S(e.patient_id), m = S(e.method), i = S(e.identity_id);
    return fb::CreateIdentityVerified(b, u, p, m, i, e.expires_at_us).Union();
  }
  Offset<void> operator()(const IdentityFailed& e) {
    auto u = S(e.username), m = S(e.method), r = S(e.reason);
    return fb::CreateIdentityFailed(b, u, m, r).Union();
  }
  Offset<void> operator()(const PasswordVerified& e) {
    auto u = S(e.username), p = S(e.patient_id), c = S(e.challenge_id);
    return fb::CreatePasswordVerified(b, u, p, c, e.expires_at_us).Union();
  }
  Offset<void> operator()(const PasswordFailed& e) {
    auto u = S(e.username), r = S(e.reason);
    return fb::CreatePasswordFailed(b, u, r).Union();
  }
  Offset<void> operator()(const SecondFactorVerified& e) {
    auto u = S(e.username), p = S(e.patient_id), c = S(e.challenge_id);
    return fb::CreateSecondFactorVerified(b, u, p, e.totp_step, c).Union();
  }
  Offset<void> operator()(const SecondFactorFailed& e) {
    auto u = S(e.username), r = S(e.reason), c = S(e.challenge_id);
    return fb::CreateSecondFactorFailed(b, u, r, c).Union();
  }
  Offset<void> operator()(const LockedOut& e) {
    auto u = S(e.username), s = S(e.stage);
    return fb::CreateLockedOut(b, u, s, e.until_us).Union();
  }
  Offset<void> operator()(const SessionStarted& e) {
    auto s = S(e.session_id), p = S(e.patient_id), u = S(e.username);
    return fb::CreateSessionStarted(b, s, p, e.expires_at_us, u).Union();
  }
  Offset<void> operator()(const SessionEnded& e) {
    auto s = S(e.session_id), r = S(e.reason);
    return fb::CreateSessionEnded(b, s, r).Union();
  }
  Offset<void> operator()(const PaymentSubmitted& e) {
    auto id = S(e.payment_id), p = S(e.patient_id), g = S(e.guarantor_id), c = S(e.card_id),
         br = S(e.card_brand), l4 = S(e.card_last4), t = S(e.processor_token);
    return fb::CreatePaymentSubmitted(b, id, p, g, e.amount_cents, c, br, l4, e.save_card, t,
                                      e.exp_month, e.exp_year)
        .Union();
  }
  Offset<void> operator()(const PaymentSucceeded& e) {
    auto id = S(e.payment_id), r = S(e.processor_ref);
    return fb::CreatePaymentSucceeded(b, id, r).Union();
  }
  Offset<void> operator()(const PaymentDeclined& e) {
    auto id = S(e.payment_id), r = S(e.decline_reason);
    return fb::CreatePaymentDeclined(b, id, r).Union();
  }
  Offset<void> operator()(const CardSaved& e) {
    auto c = S(e.card_id), p = S(e.patient_id), t = S(e.processor_token), br = S(e.brand),
         l4 = S(e.last4);
    return fb::CreateCardSaved(b, c, p, t, br, l4, e.exp_month, e.exp_year).Union();
  }
  Offset<void> operator()(const CardRemoved& e) {
    auto c = S(e.card_id), p = S(e.patient_id);
    return fb::CreateCardRemoved(b, c, p).Union();
  }
  Offset<void> operator()(const PaymentPosted& e) {
    std::vector<Offset<fb::Allocation>> allocs;
    allocs.reserve(e.allocations.size());
    for (const auto& a : e.allocations) {
      auto c = S(a.charge_id), p = S(a.patient_id);
      allocs.push_back(fb::CreateAllocation(b, c, p, a.amount_cents));
    }
    auto id = S(e.payment_id), by = S(e.posted_by), g = S(e.guarantor_id);
    auto v = b.CreateVector(allocs);
    return fb::CreatePaymentPosted(b, id, v, e.unapplied_cents, by, g).Union();
  }
  Offset<void> operator()(const InboxNotificationRead& e) {
    auto n = S(e.notification_id), r = S(e.read_by);
    return fb::CreateInboxNotificationRead(b, n, r).Union();
  }
  Offset<void> operator()(const RecordAccessed& e) {
    auto r = S(e.resource), p = S(e.patient_id);
    return fb::CreateRecordAccessed(b, r, p).Union();
  }
};

// Decoding: from the verified union member to the C++ payload, in place.
// The alternative T of *p: the one already there when it is a T (its strings keep their
// storage: a replay decodes into reused events), else a fresh one. Every field is then set.
template <class T>
T& Reuse(Payload* p) {
  if (auto* t = std::get_if<T>(p)) return *t;
  return p->emplace<T>();
}

void DecodePayloadInto(const fb::Body* body, Payload* out) {
  switch (body->payload_type()) {
    case fb::Payload::PracticeRegistered: {
      auto* e = body->payload_as_PracticeRegistered();
      auto& o = Reuse<PracticeRegistered>(out);
      Assign(e->name(), &o.name);
      Assign(e->currency(), &o.currency);
      return;
    }
    case fb::Payload::SettingsChanged: {
      auto* e = body->payload_as_SettingsChanged();
      auto& o = Reuse<SettingsChanged>(out);
      o.portal_payments_enabled = e->portal_payments_enabled();
      o.auto_post_to_ledger = e->auto_post_to_ledger();
      return;
    }
    case fb::Payload::StaffTokenIssued: {
      auto* e = body->payload_as_StaffTokenIssued();
      auto& o = Reuse<StaffTokenIssued>(out);
      Assign(e->token_id(), &o.token_id);
      Assign(e->role(), &o.role);
      Assign(e->label(), &o.label);
      if (!CopyBytes(e->token_sha256(), &o.token_sha256)) o.token_sha256 = {};
      o.expires_at_us = e->expires_at_us();
      return;
    }
    case fb::Payload::StaffTokenRevoked: {
      auto* e = body->payload_as_StaffTokenRevoked();
      auto& o = Reuse<StaffTokenRevoked>(out);
      Assign(e->token_id(), &o.token_id);
      return;
    }
    case fb::Payload::PatientUpserted: {
      auto* e = body->payload_as_PatientUpserted();
      auto& o = Reuse<PatientUpserted>(out);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->first_name(), &o.first_name);
      Assign(e->last_name(), &o.last_name);
      Assign(e->phone(), &o.phone);
      Assign(e->email(), &o.email);
      Assign(e->date_of_birth(), &o.date_of_birth);
      Assign(e->guarantor_id(), &o.guarantor_id);
      return;
    }
    case fb::Payload::ChargePosted: {
      auto* e = body->payload_as_ChargePosted();
      auto& o = Reuse<ChargePosted>(out);
      Assign(e->charge_id(), &o.charge_id);
      Assign(e->patient_id(), &o.patient_id);
      o.amount_cents = e->amount_cents();
      Assign(e->description(), &o.description);
      Assign(e->service_date(), &o.service_date);
      return;
    }
    case fb::Payload::PortalInviteIssued: {
      auto* e = body->payload_as_PortalInviteIssued();
      auto& o = Reuse<PortalInviteIssued>(out);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->invite_id(), &o.invite_id);
      o.expires_at_us = e->expires_at_us();
      o.account_reset = e->account_reset();
      return;
    }
    case fb::Payload::PortalEnrolled: {
      auto* e = body->payload_as_PortalEnrolled();
      auto& o = Reuse<PortalEnrolled>(out);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->username(), &o.username);
      Assign(e->invite_id(), &o.invite_id);
      Assign(e->secret_id(), &o.secret_id);
      return;
    }
    case fb::Payload::IdentityVerified: {
      auto* e = body->payload_as_IdentityVerified();
      auto& o = Reuse<IdentityVerified>(out);
      Assign(e->username(), &o.username);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->method(), &o.method);
      Assign(e->identity_id(), &o.identity_id);
      o.expires_at_us = e->expires_at_us();
      return;
    }
    case fb::Payload::IdentityFailed: {
      auto* e = body->payload_as_IdentityFailed();
      auto& o = Reuse<IdentityFailed>(out);
      Assign(e->username(), &o.username);
      Assign(e->method(), &o.method);
      Assign(e->reason(), &o.reason);
      return;
    }
    case fb::Payload::PasswordVerified: {
      auto* e = body->payload_as_PasswordVerified();
      auto& o = Reuse<PasswordVerified>(out);
      Assign(e->username(), &o.username);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->challenge_id(), &o.challenge_id);
      o.expires_at_us = e->expires_at_us();
      return;
    }
    case fb::Payload::PasswordFailed: {
      auto* e = body->payload_as_PasswordFailed();
      auto& o = Reuse<PasswordFailed>(out);
      Assign(e->username(), &o.username);
      Assign(e->reason(), &o.reason);
      return;
    }
    case fb::Payload::SecondFactorVerified: {
      auto* e = body->payload_as_SecondFactorVerified();
      auto& o = Reuse<SecondFactorVerified>(out);
      Assign(e->username(), &o.username);
      Assign(e->patient_id(), &o.patient_id);
      o.totp_step = e->totp_step();
      Assign(e->challenge_id(), &o.challenge_id);
      return;
    }
    case fb::Payload::SecondFactorFailed: {
      auto* e = body->payload_as_SecondFactorFailed();
      auto& o = Reuse<SecondFactorFailed>(out);
      Assign(e->username(), &o.username);
      Assign(e->reason(), &o.reason);
      Assign(e->challenge_id(), &o.challenge_id);
      return;
    }
    case fb::Payload::LockedOut: {
      auto* e = body->payload_as_LockedOut();
      auto& o = Reuse<LockedOut>(out);
      Assign(e->username(), &o.username);
      Assign(e->stage(), &o.stage);
      o.until_us = e->until_us();
      return;
    }
    case fb::Payload::SessionStarted: {
      auto* e = body->payload_as_SessionStarted();
      auto& o = Reuse<SessionStarted>(out);
      Assign(e->session_id(), &o.session_id);
      Assign(e->patient_id(), &o.patient_id);
      o.expires_at_us = e->expires_at_us();
      Assign(e->username(), &o.username);
      return;
    }
    case fb::Payload::SessionEnded: {
      auto* e = body->payload_as_SessionEnded();
      auto& o = Reuse<SessionEnded>(out);
      Assign(e->session_id(), &o.session_id);
      Assign(e->reason(), &o.reason);
      return;
    }
    case fb::Payload::PaymentSubmitted: {
      auto* e = body->payload_as_PaymentSubmitted();
      auto& o = Reuse<PaymentSubmitted>(out);
      Assign(e->payment_id(), &o.payment_id);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->guarantor_id(), &o.guarantor_id);
      o.amount_cents = e->amount_cents();
      Assign(e->card_id(), &o.card_id);
      Assign(e->card_brand(), &o.card_brand);
      Assign(e->card_last4(), &o.card_last4);
      o.save_card = e->save_card();
      Assign(e->processor_token(), &o.processor_token);
      o.exp_month = e->exp_month();
      o.exp_year = e->exp_year();
      return;
    }
    case fb::Payload::PaymentSucceeded: {
      auto* e = body->payload_as_PaymentSucceeded();
      auto& o = Reuse<PaymentSucceeded>(out);
      Assign(e->payment_id(), &o.payment_id);
      Assign(e->processor_ref(), &o.processor_ref);
      return;
    }
    case fb::Payload::PaymentDeclined: {
      auto* e = body->payload_as_PaymentDeclined();
      auto& o = Reuse<PaymentDeclined>(out);
      Assign(e->payment_id(), &o.payment_id);
      Assign(e->decline_reason(), &o.decline_reason);
      return;
    }
    case fb::Payload::CardSaved: {
      auto* e = body->payload_as_CardSaved();
      auto& o = Reuse<CardSaved>(out);
      Assign(e->card_id(), &o.card_id);
      Assign(e->patient_id(), &o.patient_id);
      Assign(e->processor_token(), &o.processor_token);
      Assign(e->brand(), &o.brand);
      Assign(e->last4(), &o.last4);
      o.exp_month = e->exp_month();
      o.exp_year = e->exp_year();
      return;
    }
    case fb::Payload::CardRemoved: {
      auto* e = body->payload_as_CardRemoved();
      auto& o = Reuse<CardRemoved>(out);
      Assign(e->card_id(), &o.card_id);
      Assign(e->patient_id(), &o.patient_id);
      return;
    }
    case fb::Payload::PaymentPosted: {
      auto* e = body->payload_as_PaymentPosted();
      auto& o = Reuse<PaymentPosted>(out);
      Assign(e->payment_id(), &o.payment_id);
      o.allocations.clear();
      if (e->allocations() != nullptr) {
        for (const auto* a : *e->allocations()) {
          o.allocations.push_back({Str(a->charge_id()), Str(a->patient_id()), a->amount_cents()});
        }
      }
      o.unapplied_cents = e->unapplied_cents();
      Assign(e->posted_by(), &o.posted_by);
      Assign(e->guarantor_id(), &o.guarantor_id);
      return;
    }
    case fb::Payload::InboxNotificationRead: {
      auto* e = body->payload_as_InboxNotificationRead();
      auto& o = Reuse<InboxNotificationRead>(out);
      Assign(e->notification_id(), &o.notification_id);
      Assign(e->read_by(), &o.read_by);
      return;
    }
    case fb::Payload::RecordAccessed: {
      auto* e = body->payload_as_RecordAccessed();
      auto& o = Reuse<RecordAccessed>(out);
      Assign(e->resource(), &o.resource);
      Assign(e->patient_id(), &o.patient_id);
      return;
    }
    case fb::Payload::NONE:
      break;
  }
  out->emplace<PracticeRegistered>();  // unreachable: DecodeRecord rejects NONE and unknown types
}

}  // namespace

std::string_view TypeName(const Payload& p) { return kTypeNames[p.index()]; }
std::string_view TypeNameAt(size_t index) { return kTypeNames[index]; }

EventId DeriveEventId(std::string_view practice_id, std::string_view command_key, uint32_t index) {
  std::string material;
  material.reserve(practice_id.size() + command_key.size() + 8);
  material.append(practice_id);
  material.push_back('\0');
  material.append(command_key);
  material.push_back('\0');
  material.append(std::to_string(index));
  Hash256 h = Sha256(material);
  EventId id{};
  std::memcpy(id.data(), h.data(), id.size());
  return id;
}

std::string Seal(Event* event, const Hash256& prev_hash) {
  FlatBufferBuilder b(256);
  auto id = b.CreateVector(event->event_id.data(), event->event_id.size());
  auto practice = b.CreateString(event->practice_id);
  auto key = b.CreateString(event->command_key);
  auto req = b.CreateVector(event->request_sha256.data(), event->request_sha256.size());
  auto actor = b.CreateString(event->actor);
  Offset<void> payload = std::visit(Encoder{b}, event->payload);
  auto type = static_cast<fb::Payload>(event->payload.index() + 1);
  b.Finish(fb::CreateBody(b, id, practice, event->occurred_at_us, event->schema_version, key, req,
                          actor, type, payload));
  std::string_view body(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  event->prev_hash = prev_hash;
  event->hash = Sha256(std::string_view(reinterpret_cast<const char*>(prev_hash.data()), 32), body);
  std::string record;
  record.reserve(kRecordHeaderBytes + body.size());
  record.append(kRecordMagic, 8);
  record.append(reinterpret_cast<const char*>(prev_hash.data()), 32);
  record.append(reinterpret_cast<const char*>(event->hash.data()), 32);
  record.append(body);
  return record;
}

Result<Event> DecodeRecord(std::string_view record) {
  Event e;
  Status s = DecodeRecordInto(record, &e);
  if (!s.ok()) return s;
  return e;
}

Status DecodeRecordInto(std::string_view record, Event* out) {
  if (record.size() < kRecordHeaderBytes ||
      record.substr(0, 8) != std::string_view(kRecordMagic, 8)) {
    return Status::Corruption("not an event record (bad magic or too short)");
  }
  Event& e = *out;
  std::memcpy(e.prev_hash.data(), record.data() + 8, 32);
  std::memcpy(e.hash.data(), record.data() + 40, 32);
  std::string_view body = record.substr(kRecordHeaderBytes);
  if (Sha256(record.substr(8, 32), body) != e.hash) {
    return Status::Corruption("event hash does not match its bytes");
  }
  // Bytes handed over by storage need not be aligned; FlatBuffers needs them 8-aligned.
  thread_local std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(body.data()) % 8 != 0) {
    aligned.resize(body.size() / 8 + 1);
    std::memcpy(aligned.data(), body.data(), body.size());
    body = std::string_view(reinterpret_cast<const char*>(aligned.data()), body.size());
  }
  flatbuffers::Verifier bv(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  if (!bv.VerifyBuffer<fb::Body>(nullptr))
    return Status::Corruption("event body fails verification");
  const fb::Body* b = flatbuffers::GetRoot<fb::Body>(body.data());
  if (b->payload_type() == fb::Payload::NONE ||
      static_cast<size_t>(b->payload_type()) > kPayloadTypes || b->payload() == nullptr) {
    return Status::Corruption("event has an unknown payload type");
  }
  if (!CopyBytes(b->event_id(), &e.event_id)) return Status::Corruption("event id is not 16 bytes");
  e.request_sha256 = {};
  if (b->request_sha256() != nullptr && !CopyBytes(b->request_sha256(), &e.request_sha256)) {
    return Status::Corruption("request fingerprint is not 32 bytes");
  }
  Assign(b->practice_id(), &e.practice_id);
  e.occurred_at_us = b->occurred_at_us();
  e.schema_version = b->schema_version();
  Assign(b->command_key(), &e.command_key);
  Assign(b->actor(), &e.actor);
  DecodePayloadInto(b, &e.payload);
  return Status::OK();
}

Status ChainVerifier::Check(uint64_t offset, const Event& event) {
  auto [it, inserted] = heads_.try_emplace(event.practice_id, Hash256{});
  if (event.prev_hash != it->second) {
    return Status::Corruption("offset " + std::to_string(offset) + ": prev_hash of practice " +
                              event.practice_id +
                              " does not match the previous event's hash (missing, reordered "
                              "or edited event)");
  }
  it->second = event.hash;
  ++checked_;
  return Status::OK();
}

const Hash256& ChainVerifier::Head(const std::string& practice_id) const {
  static const Hash256 kZero{};
  auto it = heads_.find(practice_id);
  return it == heads_.end() ? kZero : it->second;
}

}  // namespace remit
