// Must not compile: the application may not use RocksDB (docs/adr/0004-layers.md).
#include <rocksdb/db.h>
