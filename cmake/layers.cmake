# The house's boundaries, held by the build: each library names the outside libraries it may
# use (remit_layer(target ALLOW kind...)), and every other kind's headers are shadowed for its
# own sources by headers that stop the compile with an #error naming the rule. A forbidden
# include therefore fails to build, with the reason, whatever the include path; and each
# library links PRIVATE only its own outside library. docs/adr/0004-layers.md.
#
# Kinds: rocksdb, rdkafka, beast (Boost.Beast and Asio), openssl, sodium (libsodium, liboath),
# qr (libqrencode, libpng), flatbuffers, and our own headers that a layer must not reach:
# rocks (storage's RocksDB classes), kafka (adapters/kafka/), wiring (tools/).
# nlohmann-json, spdlog and fmt are allowed everywhere.
set(REMIT_FORBIDDEN_DIR ${CMAKE_BINARY_DIR}/forbidden)
set(REMIT_LAYER_KINDS rocksdb rdkafka beast openssl sodium qr flatbuffers rocks kafka wiring)

function(remit_forbid_headers kind root why)  # ARGN: globs under root
  set(headers "")
  foreach(g ${ARGN})
    file(GLOB_RECURSE found LIST_DIRECTORIES false RELATIVE ${root} ${root}/${g})
    list(APPEND headers ${found})
  endforeach()
  list(LENGTH headers n)
  if(n EQUAL 0)
    message(FATAL_ERROR "remit_forbid_headers(${kind}): no header matches ${ARGN} under ${root}")
  endif()
  foreach(h ${headers})
    file(CONFIGURE OUTPUT ${REMIT_FORBIDDEN_DIR}/${kind}/${h}
         CONTENT "#error \"${h}: ${why} (see the README of this folder and docs/adr/0004-layers.md)\"\n")
  endforeach()
endfunction()

remit_forbid_headers(rocksdb /usr/include "RocksDB is used in adapters/storage/ only" "rocksdb/*.h")
remit_forbid_headers(rdkafka /usr/include "librdkafka is used in adapters/kafka/ only" "librdkafka/*.h")
remit_forbid_headers(beast /usr/include "Boost.Beast and Asio are used in adapters/http/ only"
                     "boost/beast.hpp" "boost/beast/*.hpp" "boost/asio.hpp" "boost/asio/*.hpp")
remit_forbid_headers(openssl /usr/include "OpenSSL is used in events/ (hashes) and adapters/http/ (TLS) only"
                     "openssl/*.h")
remit_forbid_headers(sodium /usr/include "libsodium and liboath are used in adapters/crypto/ only"
                     "sodium.h" "sodium/*.h" "liboath/*.h")
remit_forbid_headers(qr /usr/include "libqrencode and libpng are used in adapters/http/ only"
                     "qrencode.h" "png.h" "pngconf.h" "pnglibconf.h")
remit_forbid_headers(flatbuffers /usr/include "FlatBuffers stay behind events/ (event.h)" "flatbuffers/*.h")
remit_forbid_headers(rocks ${PROJECT_SOURCE_DIR}
                     "the application sees the storage interfaces (event_log.h, kv_store.h, view_store.h), never RocksDB's classes"
                     "adapters/storage/rocks_*.h")
remit_forbid_headers(kafka ${PROJECT_SOURCE_DIR}
                     "only the wiring (tools/node) knows Kafka; the API sees it as a Cluster" "adapters/kafka/*.h")
remit_forbid_headers(wiring ${PROJECT_SOURCE_DIR} "nothing below tools/ includes the wiring" "tools/*.h")

# remit_layer(target ALLOW kind...): shadows every kind not allowed for target's own sources.
function(remit_layer target)
  cmake_parse_arguments(L "" "" "ALLOW" ${ARGN})
  foreach(kind ${REMIT_LAYER_KINDS})
    if(NOT kind IN_LIST L_ALLOW)
      target_include_directories(${target} BEFORE PRIVATE ${REMIT_FORBIDDEN_DIR}/${kind})
    endif()
  endforeach()
endfunction()
