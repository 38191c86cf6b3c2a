// Overloaded: a visitor made of lambdas, for std::visit over the event payloads.
#pragma once

namespace remit {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace remit
