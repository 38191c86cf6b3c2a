// Compiles: what the application may include (the control of layering_test).
#include "adapters/app/app.h"
#include "adapters/crypto/secrets.h"
#include "adapters/payments/gateway.h"
#include "adapters/storage/event_log.h"
#include "adapters/storage/kv_store.h"
#include "adapters/storage/view_store.h"
#include "engine/engine.h"
