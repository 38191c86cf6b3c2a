// Must not compile: the application sees the EventLog interface, not storage's RocksDB class.
#include "adapters/storage/rocks_event_log.h"
