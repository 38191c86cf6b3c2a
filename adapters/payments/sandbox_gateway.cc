#include "adapters/payments/sandbox_gateway.h"

#include <ctime>
#include <nlohmann/json.hpp>

namespace remit {
namespace {

using nlohmann::json;

// Behaviour of the contract's test cards, by number; any other valid number succeeds.
std::string BehaviourOf(const std::string& number) {
  if (number == "4000000000000002") return "decline:generic_decline";
  if (number == "4000000000009995") return "decline:insufficient_funds";
  if (number == "4000000000000119") return "timeout_once";
  return "succeed";
}

std::string BrandOf(const std::string& n) {
  if (n.starts_with("4")) return "visa";
  if (n.starts_with("34") || n.starts_with("37")) return "amex";
  if (n.starts_with("6")) return "discover";
  int two = n.size() >= 2 ? std::stoi(n.substr(0, 2)) : 0;
  int four = n.size() >= 4 ? std::stoi(n.substr(0, 4)) : 0;
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return "mastercard";
  return "unknown";
}

}  // namespace

bool LuhnValid(const std::string& digits) {
  if (digits.size() < 12 || digits.size() > 19) return false;
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return false;
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

Result<ChargeResult> ChargeWithRetry(PaymentGateway& gateway, const std::string& token,
                                     const std::string& owner, Cents amount_cents,
                                     const std::string& key) {
  Status last;
  for (int attempt = 0; attempt < PaymentGateway::kChargeAttemptsMax; ++attempt) {
    auto r = gateway.Charge(token, owner, amount_cents, key);
    if (r.ok() || r.status().code() != Status::Code::kTimedOut) return r;
    last = r.status();
  }
  return last;
}

SandboxGateway::SandboxGateway(std::unique_ptr<KvStore> kv) : kv_(std::move(kv)) {}

SandboxGateway::~SandboxGateway() = default;

Result<SandboxGateway::Tokenized> SandboxGateway::Tokenize(const std::string& number_in,
                                                           int exp_month, int exp_year,
                                                           const std::string& cvc, int64_t now_us) {
  std::string number;
  for (char c : number_in) {
    if (c != ' ' && c != '-') number.push_back(c);
  }
  if (!LuhnValid(number)) return Status::InvalidArgument("the card number is not valid");
  if (exp_month < 1 || exp_month > 12 || exp_year < 2000 || exp_year > 2100) {
    return Status::InvalidArgument("the expiry date is not valid");
  }
  std::time_t t = static_cast<std::time_t>(now_us / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  int year = tm.tm_year + 1900, month = tm.tm_mon + 1;
  if (exp_year < year || (exp_year == year && exp_month < month)) {
    return Status::InvalidArgument("the card has expired");
  }
  if (cvc.size() < 3 || cvc.size() > 4 ||
      cvc.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("the security code is not valid");
  }
  Tokenized out;
  out.token = "tok_sandbox_" + RandomHex(12);
  out.card = CardInfo{BrandOf(number), number.substr(number.size() - 4), exp_month, exp_year};
  // Only what the processor needs later: no number, no CVC.
  json j = {{"brand", out.card.brand},
            {"last4", out.card.last4},
            {"exp_month", exp_month},
            {"exp_year", exp_year},
            {"behaviour", BehaviourOf(number)}};
  Status s = kv_->Put("token/" + out.token, j.dump());
  if (!s.ok()) return s;
  return out;
}

Result<json> SandboxGateway::ClaimLocked(const std::string& token, const std::string& owner) {
  auto v = kv_->Get("token/" + token);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Status::NotFound("unknown card token");
  json j = json::parse(**v, nullptr, false);
  if (!j.is_object())
    return Status::Corruption("the processor's record of a card token does not parse");
  std::string held = j.value("owner", "");
  if (held.empty()) {
    j["owner"] = owner;
    Status s = kv_->Put("token/" + token, j.dump());
    if (!s.ok()) return s;
  } else if (held != owner) {
    return Status::NotFound("unknown card token");  // the same answer as for an unknown one
  }
  return j;
}

Result<CardInfo> SandboxGateway::Claim(const std::string& token, const std::string& owner) {
  MutexLock l(&mu_);
  auto j = ClaimLocked(token, owner);
  if (!j.ok()) return j.status();
  return CardInfo{(*j)["brand"], (*j)["last4"], (*j)["exp_month"], (*j)["exp_year"]};
}

Result<ChargeResult> SandboxGateway::Charge(const std::string& token, const std::string& owner,
                                            Cents amount_cents, const std::string& key) {
  MutexLock l(&mu_);
  std::string charge_key = "charge/" + key;
  json state = json::object();
  auto v = kv_->Get(charge_key);
  if (!v.ok()) return v.status();  // never charge again on a guess that the key is new
  if (v->has_value()) {
    state = json::parse(**v);
    if (state.contains("result")) {
      const json& r = state["result"];
      return ChargeResult{r["succeeded"], r["processor_ref"], r["decline_reason"]};
    }
  }
  auto card = ClaimLocked(token, owner);
  if (!card.ok() && card.status().IsNotFound()) return ChargeResult{false, "", "invalid_token"};
  if (!card.ok()) return card.status();
  std::string behaviour = card->value("behaviour", "succeed");
  if (behaviour == "timeout_once" && !state.value("timed_out", false)) {
    state["timed_out"] = true;
    Status s = kv_->Put(charge_key, state.dump());
    if (!s.ok()) return s;
    return Status::TimedOut("the processor did not answer in time");
  }
  ChargeResult r;
  if (behaviour.starts_with("decline:")) {
    r.decline_reason = behaviour.substr(8);
  } else {
    r.succeeded = true;
    r.processor_ref = "ch_sandbox_" + RandomHex(10);
  }
  state["result"] = {{"succeeded", r.succeeded},
                     {"processor_ref", r.processor_ref},
                     {"decline_reason", r.decline_reason},
                     {"amount_cents", amount_cents}};
  Status s = kv_->Put(charge_key, state.dump());
  if (!s.ok()) return s;
  return r;
}

}  // namespace remit
