#include "adapters/app/event_json.h"

#include "events/overloaded.h"

namespace remit {
namespace {

using nlohmann::json;

json Time(int64_t us) { return FormatTime(us, true); }

}  // namespace

json PayloadJson(const Payload& payload) {
  return std::visit(
      Overloaded{
          [](const PracticeRegistered& e) {
            return json{{"name", e.name}, {"currency", e.currency}};
          },
          [](const SettingsChanged& e) {
            return json{{"portal_payments_enabled", e.portal_payments_enabled},
                        {"auto_post_to_ledger", e.auto_post_to_ledger}};
          },
          [](const StaffTokenIssued& e) {
            return json{
                {"token_id", e.token_id},
                {"role", e.role},
                {"label", e.label},
                {"token_sha256", Hex(e.token_sha256)},
                {"expires_at", e.expires_at_us == 0 ? json(nullptr) : json(Time(e.expires_at_us))}};
          },
          [](const StaffTokenRevoked& e) {
            return json{{"token_id", e.token_id}};
          },
          [](const PatientUpserted& e) {
            return json{
                {"patient_id", e.patient_id},
                {"first_name", e.first_name},
                {"last_name", e.last_name},
                {"phone", e.phone},
                {"email", e.email},
                {"date_of_birth", e.date_of_birth},
                {"guarantor_id", e.guarantor_id.empty() ? json(nullptr) : json(e.guarantor_id)}};
          },
          [](const ChargePosted& e) {
            return json{{"charge_id", e.charge_id},
                        {"patient_id", e.patient_id},
                        {"amount_cents", e.amount_cents},
                        {"description", e.description},
                        {"service_date", e.service_date}};
          },
          [](const PortalInviteIssued& e) {
            return json{{"patient_id", e.patient_id},
                        {"invite_id", e.invite_id},
                        {"expires_at", Time(e.expires_at_us)},
                        {"account_reset", e.account_reset}};
          },
          [](const PortalEnrolled& e) {
            return json{{"patient_id", e.patient_id},
                        {"username", e.username},
                        {"invite_id", e.invite_id},
                        {"secret_id", e.secret_id.empty() ? e.invite_id : e.secret_id}};
          },
          [](const IdentityVerified& e) {
            return json{{"username", e.username},
                        {"patient_id", e.patient_id},
                        {"method", e.method},
                        {"identity_id", e.identity_id},
                        {"expires_at", Time(e.expires_at_us)}};
          },
          [](const IdentityFailed& e) {
            return json{{"username", e.username}, {"method", e.method}, {"reason", e.reason}};
          },
          [](const PasswordVerified& e) {
            return json{{"username", e.username},
                        {"patient_id", e.patient_id},
                        {"challenge_id", e.challenge_id},
                        {"expires_at", Time(e.expires_at_us)}};
          },
          [](const PasswordFailed& e) {
            return json{{"username", e.username}, {"reason", e.reason}};
          },
          [](const SecondFactorVerified& e) {
            return json{{"username", e.username},
                        {"patient_id", e.patient_id},
                        {"totp_step", e.totp_step},
                        {"challenge_id", e.challenge_id}};
          },
          [](const SecondFactorFailed& e) {
            return json{
                {"username", e.username}, {"reason", e.reason}, {"challenge_id", e.challenge_id}};
          },
          [](const LockedOut& e) {
            return json{{"username", e.username}, {"stage", e.stage}, {"until", Time(e.until_us)}};
          },
          [](const SessionStarted& e) {
            return json{{"session_id", e.session_id},
                        {"patient_id", e.patient_id},
                        {"expires_at", Time(e.expires_at_us)},
                        {"username", e.username}};
          },
          [](const SessionEnded& e) {
            return json{{"session_id", e.session_id}, {"reason", e.reason}};
          },
          [](const PaymentSubmitted& e) {
            return json{{"payment_id", e.payment_id},     {"patient_id", e.patient_id},
                        {"guarantor_id", e.guarantor_id}, {"amount_cents", e.amount_cents},
                        {"card_id", e.card_id},           {"card_brand", e.card_brand},
                        {"card_last4", e.card_last4},     {"save_card", e.save_card},
                        {"exp_month", e.exp_month},       {"exp_year", e.exp_year}};
          },
          [](const PaymentSucceeded& e) {
            return json{{"payment_id", e.payment_id}, {"processor_ref", e.processor_ref}};
          },
          [](const PaymentDeclined& e) {
            return json{{"payment_id", e.payment_id}, {"decline_reason", e.decline_reason}};
          },
          [](const CardSaved& e) {
            return json{{"card_id", e.card_id},     {"patient_id", e.patient_id},
                        {"brand", e.brand},         {"last4", e.last4},
                        {"exp_month", e.exp_month}, {"exp_year", e.exp_year}};
          },
          [](const CardRemoved& e) {
            return json{{"card_id", e.card_id}, {"patient_id", e.patient_id}};
          },
          [](const PaymentPosted& e) {
            json allocations = json::array();
            for (const auto& a : e.allocations) {
              allocations.push_back({{"charge_id", a.charge_id},
                                     {"patient_id", a.patient_id},
                                     {"amount_cents", a.amount_cents}});
            }
            return json{{"payment_id", e.payment_id},
                        {"allocations", allocations},
                        {"unapplied_cents", e.unapplied_cents},
                        {"posted_by", e.posted_by},
                        {"guarantor_id", e.guarantor_id}};
          },
          [](const InboxNotificationRead& e) {
            return json{{"notification_id", e.notification_id}, {"read_by", e.read_by}};
          },
          [](const RecordAccessed& e) {
            return json{{"resource", e.resource}, {"patient_id", e.patient_id}};
          },
      },
      payload);
}

json EventJson(uint64_t offset, const Event& e) {
  return json{{"offset", offset},
              {"event_id", Hex(e.event_id)},
              {"type", TypeName(e.payload)},
              {"occurred_at", Time(e.occurred_at_us)},
              {"practice_id", e.practice_id},
              {"schema_version", e.schema_version},
              {"command_key", e.command_key},
              {"actor", e.actor},
              {"prev_hash", Hex(e.prev_hash)},
              {"hash", Hex(e.hash)},
              {"payload", PayloadJson(e.payload)}};
}

}  // namespace remit
