// The route groups: each adds its operations to the route table (router.h), in the order the
// contract lists them. One file each: routes_system.cc (health, metrics, the operator, the
// sandbox processor), routes_practice.cc (practice setup: tokens, settings, patients, charges,
// invites), routes_ledger.cc (balances, inbox, transactions, events, audit), routes_portal.cc
// (the patient portal), routes_pages.cc (the pages of web/).
// Thread safety: the handlers may run concurrently.
#pragma once

#include <vector>

#include "adapters/api/router.h"

namespace remit {

void AddSystemRoutes(std::vector<Route>* table);
void AddPracticeRoutes(std::vector<Route>* table);
void AddLedgerRoutes(std::vector<Route>* table);
void AddPortalRoutes(std::vector<Route>* table);
void AddPageRoutes(std::vector<Route>* table);

}  // namespace remit
