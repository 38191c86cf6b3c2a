// Must not compile: Beast and Asio are adapters/http/'s alone.
#include <boost/beast/http.hpp>
